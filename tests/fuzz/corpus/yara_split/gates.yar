import "pe"
import "math"
private rule mz_private { condition: uint16(0) == 0x5a4d }
rule magic_and_strings : tag1 tag2 {
  meta:
    author = "kensa" score = 80 strings = "x"
  strings:
    $a = "abcdefghijklmnop" wide ascii nocase
    $h = { 4D 5A ?? 00 [2-4] 11 22 33 44 55 66 77 88 99 AA ( BB | CC ) ~DD 1? }
    $r = /longliteral[0-9]{2,}x?y*(a|b)+\.php/is
    $x = "xored text here" xor(0x01-0xff)
    $b = "base64 text" base64wide
  condition:
    mz_private and (any of ($a, $h*) or #r > 2 or $x at 0) and pe.is_dll() and math.entropy(0, filesize) > 7
}
rule reversed { strings: $a = "0123456789abcdef" condition: 0x464c457f == uint32(0) or all of them }
rule counted { strings: $a = "counted literal" $b = "other literal!" condition: #a >= 1 and $b in (0..100) and not $a at 5 }
rule loop { strings: $a = "loop literal here" condition: for any i in (1..#a) : ( @a[i] < 100 and !a[i] == 17 ) and filesize / 2 > 10 and "x" matches /y{1,3}/ }
