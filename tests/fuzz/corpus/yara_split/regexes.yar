rule re_kinds
{
    strings:
        $a = /ev[a]l\s{,2}\(\$_(POST|GET)\s*\[/ nocase
        $b = /[]x][^]y]\w+\S\d\x41\.\/\b/s
        $c = /bad\q/
        $d = /wide form/ wide
        $e = /a{,3}b{2,}c{1}/ ascii wide
    condition:
        filesize < 2MB and (any of them or filesize > 10) and filesize >= 4
}
