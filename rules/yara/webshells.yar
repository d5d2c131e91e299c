// SPDX-License-Identifier: Apache-2.0
//
// kensa's own web shell rules: server-side script files (PHP, ASP/ASPX,
// JSP) that run what the HTTP request tells them to. Written for kensa from
// the public descriptions of the shell families (China Chopper one-liners,
// command and upload shells, file managers, encrypted loaders such as
// Behinder/Godzilla) — each rule says which behaviour it keys on.
// Severity comes from meta score (Loki/THOR scale, see docs/FILES.md).

private rule kensa_is_script
{
    strings:
        $php = "<?php" nocase
        $php2 = "<?=" 
        $php3 = /<\?[ \t\r\n]/
        $asp = "<%"
        $aspx = /runat\s*=\s*["']?server/ nocase
        $jsp = "<jsp:" nocase
    condition:
        any of them
}

rule kensa_webshell_php_eval_request
{
    meta:
        description = "PHP web shell: code from the HTTP request passed to eval/assert (China Chopper style one-liner)"
        author = "kensa"
        reference = "https://www.mandiant.com/resources/blog/breaking-down-the-china-chopper-web-shell-part-i"
        mitre_attack = "T1505.003, T1059.004"
        score = 85
    strings:
        $e1 = /\b(eval|assert|create_function)\s*\(\s*(@\s*)?(stripslashes\s*\(\s*|base64_decode\s*\(\s*|gzinflate\s*\(\s*|str_rot13\s*\(\s*|trim\s*\(\s*)*@?\$_(POST|GET|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $e2 = /\bpreg_replace\s*\(\s*["'][^"']{1,40}\/e[imsx]*["']\s*,\s*@?\$_(POST|GET|REQUEST|COOKIE)/ nocase
        $e3 = /\$\w{1,20}\s*=\s*@?\$_(POST|GET|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*;\s*@?(eval|assert)\s*\(\s*\$\w{1,20}\s*\)/ nocase
        $e4 = /\b(array_map|call_user_func|call_user_func_array|usort|array_filter)\s*\(\s*["']?(assert|eval)["']?\s*,\s*(array\s*\(\s*)?@?\$_(POST|GET|REQUEST|COOKIE)/ nocase
        $e5 = /@?\$_(POST|GET|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*\(\s*@?\$_(POST|GET|REQUEST|COOKIE)\s*\[/ nocase
    condition:
        filesize < 2MB and any of them
}

rule kensa_webshell_php_command_request
{
    meta:
        description = "PHP web shell: operating system command taken straight from the HTTP request"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059.004"
        score = 85
    strings:
        $c = /\b(system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec)\s*\(\s*(@\s*)?(stripslashes\s*\(\s*|base64_decode\s*\(\s*|urldecode\s*\(\s*)?@?\$_(POST|GET|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        // backticks run a command; in a doc comment they only quote code
        $bt = /(=|echo|print|return|\()\s*`\s*\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*`/
    condition:
        filesize < 2MB and any of them
}

rule kensa_webshell_php_obfuscated_eval
{
    meta:
        description = "PHP web shell: eval of decoded, decompressed or reversed text (obfuscated loader)"
        author = "kensa"
        reference = "https://www.php.net/manual/en/function.eval.php"
        mitre_attack = "T1505.003, T1027"
        score = 75
    strings:
        $o1 = /\beval\s*\(\s*(\$\w+\s*\(\s*)?(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode|strrev|convert_uudecode)\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode|strrev|convert_uudecode|["'])/ nocase
        $o2 = /\beval\s*\(\s*["']\?>["']\s*\.\s*(gzinflate|gzuncompress|base64_decode)/ nocase
        $o3 = /(\$\w+\s*=\s*["']\w{0,4}["']\s*\.\s*){0,3}\$\w+\s*=\s*str_replace\s*\(\s*["'][^"']{1,8}["']\s*,\s*["']["']\s*,\s*["'](b[^"']{0,6}a[^"']{0,6}s[^"']{0,6}e|c[^"']{0,6}r[^"']{0,6}e[^"']{0,6}a[^"']{0,6}t[^"']{0,6}e)/ nocase
        $chr = /chr\s*\(\s*\d{2,3}\s*\)\s*\.\s*chr\s*\(\s*\d{2,3}\s*\)\s*\.\s*chr\s*\(\s*\d{2,3}\s*\)\s*\.\s*chr\s*\(\s*\d{2,3}\s*\)/ nocase
        $ev = /\b(eval|assert)\s*\(/ nocase
    condition:
        filesize < 4MB and kensa_is_script and (any of ($o*) or ($chr and $ev))
}

rule kensa_webshell_php_upload
{
    meta:
        description = "PHP upload shell: stores an uploaded file under the name the client chose"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1105/"
        mitre_attack = "T1505.003, T1105"
        score = 65
    strings:
        $u = /(move_uploaded_file|copy)\s*\(\s*\$_FILES\s*\[[^\]]{1,40}\]\s*\[\s*["']tmp_name["']\s*\]\s*,\s*[^;]{0,80}\$_FILES\s*\[[^\]]{1,40}\]\s*\[\s*["']name["']\s*\]/ nocase
        $w = /(fwrite|file_put_contents)\s*\(\s*[^;]{0,60}\$_(POST|GET|REQUEST)\s*\[[^\]]{1,40}\]\s*,\s*@?\$_(POST|GET|REQUEST)\s*\[/ nocase
    condition:
        filesize < 500KB and any of them
}

rule kensa_webshell_php_toolkit
{
    meta:
        description = "PHP web shell kit: file manager / command console features in one script"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003"
        score = 75
    strings:
        $f1 = "shell_exec" nocase
        $f2 = "passthru" nocase
        $f3 = "proc_open" nocase
        $f4 = "popen(" nocase
        $f5 = "posix_getpwuid" nocase
        $f6 = "uname -a" nocase
        $f7 = "disable_functions" nocase
        $f8 = "safe_mode" nocase
        $f9 = "/etc/passwd" nocase
        $f10 = "cmd.exe" nocase
        $f11 = "netstat -an" nocase
        $f12 = "symlink(" nocase
        $f13 = "mysql_connect" nocase
        $f14 = "$_FILES" nocase
        $f15 = "getcwd()" nocase
        $f16 = "chmod(" nocase
        $k1 = "FilesMan"
        $k2 = "c99sh" nocase
        $k3 = "r57shell" nocase
        $k4 = "b374k" nocase
        $k5 = "WSO " 
        $k6 = "Web Shell" nocase
        $k7 = "webshell" nocase
        $k8 = "phpspy" nocase
        $k9 = "Back Connect" nocase
        $k10 = "backconnect" nocase
        $k11 = "bind shell" nocase
        $open = /<\?(php|=|[ \t\r\n])/ nocase
    condition:
        filesize < 3MB and $open in (0..2048) and (6 of ($f*) or (1 of ($k*) and 3 of ($f*)))
}

rule kensa_webshell_asp_eval_request
{
    meta:
        description = "ASP/ASPX web shell: request data evaluated as code (China Chopper one-liner and kin)"
        author = "kensa"
        reference = "https://www.mandiant.com/resources/blog/breaking-down-the-china-chopper-web-shell-part-i"
        mitre_attack = "T1505.003, T1059"
        score = 90
    strings:
        $e1 = /\b(eval|execute|executeglobal)\s*\(?\s*(request|Request\.Item|Request\.Form|Request\.QueryString|request\.item|request\.form|request\.querystring)\s*[\[\(]/ nocase
        $e2 = /\beval\s*\(\s*(System\.Text\.Encoding\.\w+\.GetString\s*\(\s*)?(System\.)?Convert\.FromBase64String\s*\(\s*Request/ nocase
        $e3 = /\b(execute|executeglobal|eval)\s*\(?\s*\w{1,20}\s*\(\s*request\s*\(/ nocase
        $e4 = /\bexecute\s*\(?\s*request\s*\(/ nocase
        $e5 = /\beval\s*\([^;]{0,120}FromBase64String\s*\(/ nocase
        $e6 = /=\s*request\s*(\.form|\.querystring|\.item)?\s*\(\s*["'][^"']{1,20}["']\s*\)[\s\S]{0,200}\b(eval|execute|executeglobal)\s*\(?\s*\w{1,20}\s*\)?\s*(%>|\r?\n)/ nocase
    condition:
        filesize < 2MB and kensa_is_script and any of them
}

rule kensa_webshell_aspx_command
{
    meta:
        description = "ASPX/ASP command shell: starts cmd.exe/processes with arguments from the request"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059.003"
        score = 80
    strings:
        $p1 = "ProcessStartInfo" nocase
        $p2 = "Process.Start" nocase
        $p3 = /WScript\.Shell["']?\s*\)/ nocase
        $p4 = /\.(exec|run)\s*\(\s*["']?(cmd|%comspec%|command)/ nocase
        $cmd = /cmd(\.exe)?["'\s]/ nocase
        $r1 = /Request(\.Form|\.QueryString|\.Item)?\s*[\[\(]/ nocase
        $r2 = /\.Text\b/
    condition:
        filesize < 1MB and kensa_is_script and ($p1 or $p2 or $p3 or $p4) and $cmd and ($r1 or $r2)
}

rule kensa_webshell_aspx_assembly_loader
{
    meta:
        description = "ASPX in-memory loader (Behinder/Godzilla style): decrypts request bytes and loads them as an assembly"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1620/"
        mitre_attack = "T1505.003, T1620"
        score = 90
    strings:
        $l = /Assembly\s*\.\s*Load\s*\(/ nocase
        $c = "CreateInstance" nocase
        $r = "Request" nocase
        $k1 = "RijndaelManaged" nocase
        $k2 = "FromBase64String" nocase
        $k3 = "BinaryRead" nocase
        $k4 = "Session" 
    condition:
        filesize < 500KB and kensa_is_script and $l and $r and ($c or 2 of ($k*))
}

rule kensa_webshell_jsp_command
{
    meta:
        description = "JSP web shell: Runtime.exec/ProcessBuilder with a command from the request"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059"
        score = 85
    strings:
        $x1 = /Runtime\s*\.\s*getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(/
        $x2 = /new\s+ProcessBuilder\s*\(/
        $r = /request\s*\.\s*getParameter\s*\(/
        $io = /getInputStream\s*\(\s*\)/
    condition:
        filesize < 1MB and ($x1 or $x2) and $r and $io
}

rule kensa_webshell_jsp_classloader
{
    meta:
        description = "JSP in-memory loader (Behinder/Godzilla style): defines a class from decrypted request bytes"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1620/"
        mitre_attack = "T1505.003, T1620"
        score = 90
    strings:
        $cl = /extends\s+ClassLoader/
        $dc = "defineClass"
        $ci = "Cipher" 
        $b64 = /(BASE64Decoder|Base64\.getDecoder|decodeBuffer|base64Decode)/
        $req = /request\s*\.\s*(getReader|getInputStream|getParameter)/
    condition:
        filesize < 500KB and $dc and ($cl or $ci) and $req and ($b64 or $ci)
}

rule kensa_webshell_jsp_file_manager
{
    meta:
        description = "JSP file manager shell: browses, reads and writes files chosen by the request"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1083"
        score = 70
    strings:
        $f1 = "listFiles()"
        $f2 = "FileOutputStream"
        $f3 = "delete()"
        $f4 = "renameTo("
        $f5 = "getParameter("
        $f6 = /Runtime\s*\.\s*getRuntime/
        $f7 = "upload" nocase
        $f8 = "cmd" nocase
    condition:
        filesize < 1MB and 6 of them and $f5 and ($f6 or $f8)
}

rule kensa_webshell_asp_obfuscated
{
    meta:
        description = "ASP web shell: Execute/Eval of text rebuilt at run time (encoded VBScript, Chr arithmetic, reversed strings)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 70
    strings:
        $enc = /<%@\s*LANGUAGE\s*=\s*["']?VBScript\.Encode/ nocase
        $encbody = "#@~^"
        $x1 = /\b(execute|executeglobal|eval)\b\s*\(?\s*[a-z_]\w{0,30}\s*\(\s*["']/ nocase
        $d1 = "StrReverse" nocase
        $d2 = /chr\s*\(\s*\w+\s*\(\s*\w+\s*\)\s*[-+^]\s*\d+/ nocase
        $d3 = /chrw?\s*\(\s*\d{2,3}\s*\)\s*&\s*chrw?\s*\(\s*\d{2,3}\s*\)\s*&\s*chrw?\s*\(/ nocase
        $d4 = "Split(" nocase
        $asp = "<%"
    condition:
        filesize < 2MB and $asp and (($enc and $encbody) or ($x1 and any of ($d*)))
}

rule kensa_webshell_asp_toolkit
{
    meta:
        description = "ASP web shell kit: file system, shell and upload objects driven by the request"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003"
        score = 65
    strings:
        $o1 = "Scripting.FileSystemObject" nocase
        $o2 = "WScript.Shell" nocase
        $o3 = "Shell.Application" nocase
        $o4 = "ADODB.Stream" nocase
        $o5 = "WScript.Network" nocase
        $o6 = "Server.ScriptTimeout" nocase
        $o7 = "cmd.exe" nocase
        $o8 = "SaveToFile" nocase
        $o9 = "DeleteFile" nocase
        $o10 = "Request.ServerVariables" nocase
        $o11 = /user_?pass(word)?\s*=\s*["']/ nocase
        $o12 = "ADOX.Catalog" nocase
        $r = "Request" nocase
    condition:
        filesize < 3MB and kensa_is_script and $r and 5 of ($o*)
}

rule kensa_webshell_php_dynamic_call
{
    meta:
        description = "PHP web shell: a function name built at run time called with request input (obfuscated one-liner)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1027"
        score = 75
    strings:
        $d1 = /\$\w{1,20}\s*\(\s*@?\$_(POST|GET|REQUEST|COOKIE)\s*\[/
        // a variable variable assigned, indexed or called ("$$Id$" is a CVS keyword)
        $d2 = /\$\$[a-zA-Z_]\w{0,19}\s*(\(|\[|=[^=])/
        $d3 = /["']as["']\s*\.\s*["']se/ nocase
        $d4 = /substr_replace\s*\(\s*["']as/ nocase
        // a name XOR-ed out of two strings ('^' alone is a regex or a case label)
        $d5 = /["'][^"'\r\n]{1,12}["']\s*\^\s*["'][^"'\r\n]{1,12}["']/
        $d6 = /array_walk\s*\(/
        $req = /\$_(POST|GET|REQUEST|COOKIE)\b/
        $req2 = "'_'.'P'"
        $req3 = "\"_\".\"P\""
    condition:
        kensa_is_script and (($d1 and filesize < 100KB) or (filesize < 4KB and ($req or $req2 or $req3) and 1 of ($d2, $d3, $d4, $d5, $d6)))
}

rule kensa_webshell_jsp_reverse_or_exec
{
    meta:
        description = "JSP shell: runs operating system commands (Runtime.exec / ProcessBuilder), reachable from the request or a socket"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059"
        score = 75
    strings:
        $x1 = /getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(/
        $x2 = /new\s+ProcessBuilder\s*\(/
        $x3 = /["']getRuntime["']/
        $x4 = /["']exec["']/
        $x5 = /\.exec\s*\(\s*["'](cmd(\.exe)?|\/bin\/(ba)?sh)["']/
        $x6 = /Class\s*\.\s*forName\s*\(\s*new\s+String\s*\(\s*new\s+byte\s*\[\s*\]/
        $x7 = /\.invoke\s*\(/
        $r = /request\s*\.\s*getParameter\s*\(/
        $s = /new\s+(java\.net\.)?Socket\s*\(/
        $jsp = "<%"
        $jsp2 = "<jsp:scriptlet>"
    condition:
        filesize < 1MB and ($jsp or $jsp2) and ($x1 or $x2 or ($x3 and $x4) or $x5 or ($x6 and $x7)) and ($r or $s)
}

rule kensa_webshell_jsp_upload
{
    meta:
        description = "JSP upload/write shell: writes request-chosen content to a request-chosen file"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1105/"
        mitre_attack = "T1505.003, T1105"
        score = 60
    strings:
        $w1 = /new\s+(java\.io\.)?FileOutputStream\s*\(/
        $w2 = /new\s+(java\.io\.)?(FileWriter|PrintWriter|RandomAccessFile)\s*\(/
        $r = /request\s*\.\s*getParameter\s*\(/
        $p = /getRealPath\s*\(/
        $jsp = "<%"
        $jsp2 = "<jsp:scriptlet>"
    condition:
        filesize < 30KB and ($jsp or $jsp2) and ($w1 or $w2) and $r and $p
}

rule kensa_webshell_php_request_to_sink
{
    meta:
        description = "Small PHP script that reads request parameters and calls eval/assert/system on a variable (request-to-sink backdoor)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059.004"
        score = 70
    strings:
        $code = /\b(eval|assert)\s*\(\s*(@\s*)?((base64_decode|gzinflate|gzuncompress|str_rot13|stripslashes|urldecode|trim)\s*\(\s*)*["']?\$[a-zA-Z_]\w{0,30}\s*(\)|\.|,|")/ nocase
        $cmd = /\b(system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec)\s*\(\s*(@\s*)?((base64_decode|stripslashes|urldecode|trim)\s*\(\s*)*["']?\$[a-zA-Z_]\w{0,30}\s*(\)|\.|,|")/ nocase
        // the same sink quoted in a comment ("// Alternate: shell_exec($cmd)")
        $cmd_comment = /\/\/[^\r\n]{0,60}\b(system|passthru|shell_exec|exec|popen|proc_open|pcntl_exec)\s*\(\s*\$/ nocase
        $req = /\$_(POST|GET|REQUEST|COOKIE)\s*\[/
        $open = /<\?(php|=|[ \t\r\n])/ nocase
    condition:
        $open and $req and (($code and filesize < 40KB) or ($cmd and #cmd > #cmd_comment and filesize < 8KB))
}

rule kensa_webshell_asp_wscript_shell
{
    meta:
        description = "ASP page that creates WScript.Shell (runs programs on the server)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/005/"
        mitre_attack = "T1505.003, T1059.005"
        score = 60
    strings:
        $w = /CreateObject\s*\(\s*["']WScript\.Shell["']\s*\)/ nocase
        $o = /Server\.CreateObject\s*\(\s*["'](WScript\.Shell|Shell\.Application)["']\s*\)/ nocase
        $asp = "<%"
    condition:
        filesize < 2MB and $asp and ($w or $o)
}
