// SPDX-License-Identifier: Apache-2.0
//
// kensa's web shell rules, second set (issue 20): one rule per technique
// that web shells use to hide what they run and that benign applications
// do not combine — encoded payloads decoded and executed, function names
// split, escaped or XOR-built, callbacks and variable functions fed from
// the request, code taken from headers/environment/remote, UTF-7 and
// script-encoder evasion in ASP, request bytes decrypted and loaded in
// .NET, classes defined from request bytes in JSP. Written by technique,
// never by sample hash or a sample's own strings; measured on a public
// shell collection and on real applications (WordPress, phpMyAdmin,
// Roundcube, MediaWiki, DokuWiki, Tomcat, Mono's ASP.NET examples):
// tests/unit/test_yara_quality.c.
// Severity comes from meta score (Loki/THOR scale, see docs/FILES.md).

private rule kensa_t_php
{
    strings:
        $open = /<\?(php|=|[ \t\r\n])/ nocase
    condition:
        $open
}

private rule kensa_t_asp
{
    strings:
        $a = "<%"
        $b = /runat\s*=\s*["']?server/ nocase
    condition:
        $a in (0..8192) or $b
}

// ---- PHP ------------------------------------------------------------------------

rule kensa_webshell_php_encoded_payload_exec
{
    meta:
        description = "PHP: a long encoded literal run through decoders (base64, gzinflate, rot13, hex) and executed (eval, assert, create_function, a variable function)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027, T1140"
        score = 80
    strings:
        $blob = /["'][A-Za-z0-9+\/=]{400,}["']/
        $blob_split = /(["'][A-Za-z0-9+\/=]{40,}["']\s*\.\s*){6,}/
        $blob_hex = /["'](\\x[0-9a-fA-F]{2}){60,}/
        $dec = /\b(gzinflate|gzuncompress|gzdecode|base64_decode|str_rot13|convert_uudecode|hex2bin)\s*\(/ nocase
        $dec_split = /["']base["']\s*\.\s*["']64_decode["']/ nocase
        $exec1 = /\b(eval|assert)\s*\(\s*(@\s*)?(\$\w+|["'][^"']{0,6}["']\s*\.\s*\$\w+|\w+\s*\()/ nocase
        $exec2 = /@?\$\w{1,40}\s*\(\s*(@\s*)?\$\w{1,40}\s*\)\s*;/
        $exec3 = /create_function\s*\(/ nocase
        $exec4 = /preg_replace\s*\(\s*["'][^"']{1,30}\/[imsx]*e[imsx]*["']/ nocase
    condition:
        kensa_t_php and filesize < 4MB and any of ($blob*) and any of ($dec*) and any of ($exec*)
}

rule kensa_webshell_php_hidden_function_names
{
    meta:
        description = "PHP: names of eval/assert/base64_decode/gzinflate/create_function/system written as hex or octal escapes or split into string fragments"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 75
    strings:
        $hx_eval = "\\x65\\x76\\x61\\x6c" nocase
        $hx_assert = "\\x61\\x73\\x73\\x65\\x72\\x74" nocase
        $hx_base64 = "\\x62\\x61\\x73\\x65\\x36\\x34" nocase
        $hx_gzinflate = "\\x67\\x7a\\x69\\x6e\\x66\\x6c" nocase
        $hx_create = "\\x63\\x72\\x65\\x61\\x74\\x65\\x5f" nocase
        $hx_system = "\\x73\\x79\\x73\\x74\\x65\\x6d" nocase
        $oc_eval = "\\145\\166\\141\\154"
        $oc_assert = "\\141\\163\\163\\145\\162\\164"
        $oc_base64 = "\\142\\141\\163\\145\\66\\64"
        $sp_base64 = /["']ba(s|se)?["']\s*\.\s*["'](e|se)?64_?d/ nocase
        $sp_base64b = /["']base(6|64)?["']\s*\.\s*["'](4|64)?_?de/ nocase
        $sp_assert = /["']as(s|se|ser)?["']\s*\.\s*["'](s|se|ser|sert|ert|rt|t)["']/ nocase
        $sp_eval = /["']e(v|va)?["']\s*\.\s*["'](va|al|l)["']/ nocase
        $sp_gz = /["']gz(in|inf|infl)?["']\s*\.\s*["'](in|fl|fla|flate|late)/ nocase
        $sp_create = /["']cr(e|ea|eat)?["']\s*\.\s*["'](at|eat|ate|e)/ nocase
        $sp_rot = /["']str_?["']\s*\.\s*["']_?rot/ nocase
        // letters interleaved with a filler character removed later (str_replace)
        $fill_assert = /["']a[^a-z"'\s]{1,3}s[^a-z"'\s]{1,3}s[^a-z"'\s]{1,3}e[^a-z"'\s]{1,3}r[^a-z"'\s]{1,3}t/ nocase
        $fill_eval = /["']e[^a-z"'\s]{1,3}v[^a-z"'\s]{1,3}a[^a-z"'\s]{1,3}l[^a-z"'\s]{0,3}["']/ nocase
        $fill_base = /["']b[^a-z"'\s]{1,3}a[^a-z"'\s]{1,3}s[^a-z"'\s]{1,3}e[^a-z"'\s]{1,3}6/ nocase
        // no letters at all: names made with ~ or arithmetic on characters
        $not1 = /\.=\s*~\s*\(?\s*\$\w{1,10}\s*[\{\[]\s*\$\w{1,10}\s*[\}\]]/
        $not2 = /\(\s*["']>["']\s*>\s*["']<["']\s*\)/
    condition:
        kensa_t_php and filesize < 4MB and any of them
}

rule kensa_webshell_php_callback_from_request
{
    meta:
        description = "PHP: request data handed to a callback-taking function (array_map, array_*_u*, forward_static_call, register_shutdown_function, usort...) whose callback is built at run time"
        author = "kensa"
        reference = "https://www.php.net/manual/en/language.types.callable.php"
        mitre_attack = "T1505.003, T1027"
        score = 75
    strings:
        $cb = /\b(array_map|array_filter|array_walk|array_walk_recursive|array_reduce|array_(u?intersect|u?diff)_u?(assoc|key)|array_udiff\w{0,12}|array_uintersect\w{0,12}|call_user_func(_array)?|forward_static_call(_array)?|register_shutdown_function|register_tick_function|usort|uasort|uksort|iterator_apply|ob_start|set_error_handler|set_exception_handler|mb_ereg_replace|mb_eregi_replace|preg_replace_callback)\s*\(/ nocase
        $req = /\$_(POST|GET|REQUEST|COOKIE)\b/
        // the callback itself decoded (a decoded argument alone is ordinary code)
        $dyn1 = /\b(array_map|array_filter|array_walk|array_reduce|call_user_func(_array)?|forward_static_call(_array)?|register_shutdown_function|usort|uasort|uksort|iterator_apply)\s*\(\s*([^,;()]{1,60},\s*)?@?(base64_decode|str_rot13|strrev|hex2bin)\s*\(/ nocase
        $dyn2 = /["'](as|ass|asse|asser|sert|ert|ev|eva)["']/ nocase
        $dyn3 = /\$\w{1,20}\s*\[\s*\d\s*\]\s*\.\s*\$\w{1,20}\s*\[\s*\d\s*\]/
        $dyn4 = /\$\w{1,20}\s*\.\s*["'][a-z]{1,5}["']\s*,/ nocase
        $dyn5 = /mb_eregi?_replace\s*\([^;]{1,120},\s*["']e["']\s*\)/ nocase
        $dyn6 = /["'](assert|system|passthru|shell_exec|create_function)["']\s*[,)]/ nocase
        // the callback's name unpacked from hex and XOR-ed
        $dyn7 = /pack\s*\(\s*["']H\*["']\s*,[^;]{1,80}\)\s*\^/ nocase
    condition:
        kensa_t_php and filesize < 8KB and $cb and $req and any of ($dyn*)
}

rule kensa_webshell_php_variable_function_request
{
    meta:
        description = "Small PHP script calling a variable function or array element with request data (the function name comes from the request, the file name or a string trick)"
        author = "kensa"
        reference = "https://www.php.net/manual/en/functions.variable-functions.php"
        mitre_attack = "T1505.003, T1059.004"
        score = 70
    strings:
        $req = /\$_?(POST|GET|REQUEST|COOKIE)\b/
        $hdr = /(getallheaders\s*\(\s*\)|apache_request_headers\s*\(\s*\)|getenv\s*\(\s*["']HTTP_|\$_SERVER\s*\[\s*["']HTTP_|php:\/\/input)/ nocase
        $call1 = /(^|[;{}\s])@?\$\w{1,30}\s*\(\s*(@\s*)?\$\w{1,30}\s*\)/
        $call2 = /\]\s*\(\s*(@\s*)?\$_(POST|GET|REQUEST|COOKIE)\s*\[/
        $call3 = /(^|[;{}\s])@?\$\w{1,30}\s*\(\s*(base64_decode\s*\(\s*)?(\$_(POST|GET|REQUEST|COOKIE)|getallheaders)/
        $call4 = /\$\{\s*\$\w{1,20}\s*\}\s*\[/
        $call5 = /->\s*(newInstance|invoke|invokeArgs|__invoke)\s*\(|fromCallable\s*\(/
        $vars = /foreach\s*\(\s*array\s*\(\s*["']_(POST|GET|REQUEST|COOKIE)["']|extract\s*\(\s*\$_(POST|GET|REQUEST|COOKIE)|parse_str\s*\(\s*\$_SERVER/ nocase
    condition:
        kensa_t_php and filesize < 3KB and ($req or $hdr or $vars) and any of ($call*)
}

rule kensa_webshell_php_exec_from_headers_or_remote
{
    meta:
        description = "PHP: eval/assert of code taken from HTTP headers, the environment, the raw request body or a remote/temporary file"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059.004"
        score = 75
    strings:
        $e1 = /\b(eval|assert)\s*\(\s*(@\s*)?(base64_decode\s*\(\s*|gzinflate\s*\(\s*|str_rot13\s*\(\s*)*(getenv\s*\(\s*["']HTTP_|getallheaders\s*\(|apache_request_headers|\$_SERVER\s*\[\s*["']HTTP_|file_get_contents\s*\(\s*["']php:\/\/input)/ nocase
        $e2 = /\b(eval|assert)\s*\(\s*(@\s*)?(file_get_contents|curl_exec|stream_get_contents|fread)\s*\(/ nocase
        $e3 = /\$\w{1,30}\s*=\s*(@\s*)?file_get_contents\s*\(\s*\$\w+[^;]{0,60}[;{][\s\S]{0,200}\b(eval|assert)\s*\(\s*(@\s*)?\$\w+/ nocase
        $e4 = /\b(eval|assert)\s*\(\s*(@\s*)?\$_SESSION\s*\[/ nocase
    condition:
        kensa_t_php and filesize < 100KB and any of them
}

rule kensa_webshell_php_small_eval_request
{
    meta:
        description = "Small PHP script with eval/assert and request input, reached through a class, a function or variable variables"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1059.004"
        score = 65
    strings:
        $ev = /\b(eval|assert)\s*\(\s*(@\s*)?(\$|["'][^"']{0,20}["']\s*\.|\w+\s*\(\s*\))/ nocase
        $req1 = /\$_(POST|GET|REQUEST|COOKIE)\b/
        $req2 = /\$\{?\s*["']?_(POST|GET|REQUEST)/
        $req3 = /array\s*\(\s*["']_(POST|GET|REQUEST|COOKIE)["']/
        // a superglobal's name built at run time: ${strtoupper(...)}[...]
        $req4 = /\$\{\s*(strtoupper|strtolower|base64_decode|str_rot13|strrev|chr)\s*\(/ nocase
        $xor = /["'][^"'\r\n]{2,12}["']\s*\^\s*["'][^"'\r\n]{2,12}["']/
    condition:
        kensa_t_php and filesize < 3KB and $ev and any of ($req*, $xor)
}

rule kensa_webshell_php_xor_decrypt_exec
{
    meta:
        description = "PHP: request or session data XOR-decrypted with a key and executed or kept for later (Godzilla / encrypted one-liners)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1573/"
        mitre_attack = "T1505.003, T1573, T1027"
        score = 80
    strings:
        $x1 = /\^\s*str_repeat\s*\(/ nocase
        $x2 = /\^\s*\$\w{1,20}\s*\[\s*(\(\s*)?\$\w{1,20}\s*\+\s*1\s*\)?\s*&\s*15\s*\]/
        $x3 = /\$\w{1,20}\s*\[\s*\$\w{1,10}\s*\]\s*\^\s*\$\w{1,20}\s*\[\s*\$\w{1,10}\s*(%|&)/
        $x4 = /\[\s*\(?\s*\$\w{1,10}\s*\+\s*1\s*\)?\s*&\s*15\s*\]/
        $x5 = /\$\w{1,10}\s*[\{\[]\s*\$\w{1,5}\s*[\}\]]\s*\^\s*\$\w{1,10}\s*[\{\[]\s*\$\w{1,5}\s*[\}\]]/
        $s1 = /\b(eval|assert|create_function)\s*\(/ nocase
        $s2 = /\$_SESSION\s*\[[^\]]{1,40}\]\s*=/
        $s3 = /(^|[;{}\s])@?\$\w{1,30}\s*\(\s*@?\$\w{1,30}\s*\)\s*;/
        $r = /\$_(POST|GET|REQUEST|COOKIE|SERVER)\b|php:\/\/input/
    condition:
        kensa_t_php and filesize < 400KB and any of ($x*) and any of ($s*) and $r
}

rule kensa_webshell_php_split_name_assembly
{
    meta:
        description = "PHP: a function name glued together from short string fragments (or built with str_replace/strrev) and called"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 70
    strings:
        $glue = /\$\w{1,30}\s*=\s*(["'][a-z0-9_]{1,6}["']\s*\.\s*){3,}["'][a-z0-9_]{1,6}["']\s*;/ nocase
        $glue2 = /\$\w{1,30}\s*=\s*(\$\w{1,10}\s*\.\s*){1,}["'][a-z]{2,6}["']\s*;/
        $glue3 = /(\$\w{1,10}\s*[\[\{]\s*\d{1,2}\s*[\]\}]\s*\.\s*){4,}/
        $call = /(^|[;{}\s(])@?\$\w{1,30}\s*\(/
        $req = /\$_(POST|GET|REQUEST|COOKIE|SERVER)\b|getallheaders|php:\/\/input|\$\$\w|\$\{\s*\$/
    condition:
        kensa_t_php and filesize < 200KB and any of ($glue*) and $call and $req
}

rule kensa_webshell_php_request_chosen_file
{
    meta:
        description = "PHP: includes, writes or opens a file whose name comes straight from the request (include($_GET[...]), file_put_contents($_COOKIE[...], ...))"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1105"
        score = 70
    strings:
        $inc = /\b(include|require)(_once)?\s*\(?\s*(@\s*)?\$_(GET|POST|REQUEST|COOKIE)\s*\[/ nocase
        $put = /\b(file_put_contents|fopen|fputs|fwrite)\s*\(\s*(@\s*)?\$_(GET|POST|REQUEST|COOKIE)\s*\[/ nocase
        $refl = /new\s+Reflection(Function|Method|Class)\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
        $cf = /create_function\s*\(\s*["']{2}\s*,\s*(@\s*)?(base64_decode|gzinflate|str_rot13|\$)/ nocase
        $rx = /preg_replace\s*\(\s*["'](\/|#|~|@)[^"']{0,40}(\/|#|~|@)[imsxu]*e[imsxu]*["']\s*,\s*(\$|["']\s*\.\s*\$)/ nocase
    condition:
        kensa_t_php and filesize < 20KB and any of them
}

rule kensa_webshell_php_self_deleting_resident
{
    meta:
        description = "PHP: deletes its own file and keeps running (ignore_user_abort / endless loop) executing or rewriting code: a memory-resident PHP shell"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1070/004/"
        mitre_attack = "T1505.003, T1070.004"
        score = 75
    strings:
        $del1 = /unlink\s*\(\s*(__FILE__|\$_SERVER\s*\[\s*["']SCRIPT_FILENAME)/ nocase
        $keep1 = /ignore_user_abort\s*\(\s*(true|1)?\s*\)/ nocase
        $keep2 = /set_time_limit\s*\(\s*0\s*\)/ nocase
        $keep3 = /while\s*\(\s*(1|true|\$\w+\s*=)/ nocase
        $act1 = /\b(eval|assert)\s*\(/ nocase
        $act2 = /file_put_contents\s*\(/ nocase
    condition:
        kensa_t_php and filesize < 20KB and $del1 and any of ($keep*) and any of ($act*)
}

rule kensa_webshell_php_form_command_runner
{
    meta:
        description = "PHP command runner: an HTML form field (cmd, command, execute) whose value goes to system/passthru/exec/shell_exec/popen (register_globals-era consoles and their successors)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/004/"
        mitre_attack = "T1505.003, T1059.004"
        score = 70
    strings:
        $form = /<(input|textarea)[^>]{0,400}name\s*=\s*\\?["']?(cmd|command|exec|execute|c|cmdexe)\\?["'\s>]/ nocase
        $run1 = /\b(system|passthru|shell_exec|exec|popen|proc_open)\s*\(\s*(stripslashes\s*\(\s*|escapeshellcmd\s*\(\s*|trim\s*\(\s*)?["']?\$(_(POST|GET|REQUEST)\s*\[\s*["'])?(cmd|command|exec|execute|c|cmdexe)\b/ nocase
        $run2 = /\b(system|passthru|shell_exec|exec|popen|proc_open)\s*\(\s*\$\w{1,20}\s*[,)]/ nocase
        $glob = /HTTP_(POST|GET)_VARS|register_globals|\$PHP_SELF\b/ nocase
    condition:
        kensa_t_php and filesize < 400KB and $form and ($run1 or ($run2 and $glob))
}

// ---- Perl / Python CGI ---------------------------------------------------------------

rule kensa_webshell_cgi_shell
{
    meta:
        description = "Perl/Python CGI shell: runs request-chosen commands (CGI parameters to system/backticks/popen/open3) or connects back with a shell on the socket; or an IRC bot running what the channel says"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/006/"
        mitre_attack = "T1505.003, T1059.006"
        score = 70
    strings:
        $pl = /^#!\s*\/usr\/(local\/)?bin\/(env\s+)?perl/
        $py = /^#!\s*\/usr\/(local\/)?bin\/(env\s+)?python/
        $dup1 = /open\s*\(\s*STD(IN|OUT|ERR)\s*,\s*["']?>&/
        $dup2 = /os\.dup2\s*\(/
        $sh = /\/bin\/(ba)?sh|cmd\.exe/
        $sock = /IO::Socket|socket\s*\(|socket\.socket/
        $cgi1 = /\$ENV\s*\{\s*["']?QUERY_STRING|ReadParse|param\s*\(|cgi\.FieldStorage/
        $run1 = /\b(system|exec)\s*\(|`\$\w+|open\s*\([^)]{0,60}\|["']?\s*\)|os\.popen|subprocess\.|os\.system|commands\.getoutput|open3\s*\([^)]{0,60}\/bin\/(ba)?sh/
        $html = /Content-type:\s*text\/html|->\s*header\s*\(/ nocase
        // an IRC bot: joins a channel and runs what PRIVMSG says (dropped by shells)
        $irc = /PRIVMSG/
        $irc_sock = /IO::Socket::INET\s*->\s*new|socket\.socket|fsockopen/
        $irc_run = /`\$\w+[^`]{0,20}`|\bsystem\s*\(\s*\$|\bexec\s*\(\s*\$|os\.popen\s*\(|subprocess\./
    condition:
        filesize < 200KB and ($pl at 0 or $py at 0) and
        ((any of ($dup*) and $sh and $sock) or ($cgi1 and $run1 and $html) or
         (#irc >= 3 and $irc_sock and $irc_run))
}

// ---- ASP / ASPX -------------------------------------------------------------------

rule kensa_webshell_asp_char_built_eval
{
    meta:
        description = "ASP (JScript/VBScript): code glued together one or two characters at a time (comments between) and passed to eval/Execute"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 80
    strings:
        $glue = /(["'][^"'\r\n]{1,2}["'](\s|\/\*[^\r\n]{0,12}\*\/|[+&]){1,40}){8,}/
        $ev = /\b(eval|execute|executeglobal)\b/ nocase
    condition:
        kensa_t_asp and filesize < 200KB and $glue and $ev
}

rule kensa_webshell_asp_encoding_evasion
{
    meta:
        description = "ASP page in UTF-7 (codepage 65000) or with Execute of a hex-string decoder: encodings chosen to hide code from scanners"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 75
    strings:
        $utf7 = /<%@\s*codepage\s*=\s*65000/ nocase
        $xhex = /\b(execute|executeglobal|eval)\s*\(?\s*[a-z_]\w{0,30}\s*\(\s*"[0-9a-f]{16,}"/ nocase
        $chr = /chrw?\s*\(\s*\(?\s*"&H"/ nocase
        $unesc = /\b(execute|executeglobal|eval)\s*\(?\s*\(?\s*(unescape|decode\w{0,10}|\w{0,10}decrypt\w{0,10})\s*\(/ nocase
        $unsafe = /\beval\s*\(\s*[^,()]{1,60},\s*["'](unsafe|\\x75)/ nocase
        $splitobj = /createobject\s*\(\s*["'][a-z.]{1,12}["']\s*&/ nocase
    condition:
        kensa_t_asp and filesize < 1MB and ($utf7 or ($xhex and $chr) or $unesc or $unsafe or $splitobj)
}

rule kensa_webshell_xslt_script_exec
{
    meta:
        description = "Page that runs an XSLT transform whose msxsl:script block starts processes (WScript.Shell / Process.Start)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1220/"
        mitre_attack = "T1505.003, T1220"
        score = 80
    strings:
        $x = "msxsl:script" nocase
        $s1 = "wscript.shell" nocase
        $s2 = "Process.Start" nocase
        $s3 = /\.Exec\s*\(/ nocase
        $t1 = "transformNode" nocase
        $t2 = "XslCompiledTransform" nocase
        $t3 = "XslTransform" nocase
    condition:
        filesize < 500KB and $x and any of ($s*) and any of ($t*)
}

rule kensa_webshell_dotnet_request_decrypt_load
{
    meta:
        description = ".NET page or handler: request bytes Base64-decoded, decrypted and loaded or invoked as code (Godzilla/Behinder ASPX and ASHX)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1620/"
        mitre_attack = "T1505.003, T1620, T1573"
        score = 85
    strings:
        $req = /FromBase64String\s*\(\s*(Context\s*\.\s*|HttpContext\s*\.\s*Current\s*\.\s*)?Request/ nocase
        $req2 = /Request\s*\.\s*(BinaryRead|InputStream)/ nocase
        $dec1 = "CreateDecryptor" nocase
        $dec2 = "TransformFinalBlock" nocase
        $load1 = /\.\s*Load\s*\(/
        $load2 = "CreateInstance" nocase
        $load3 = /GetMethod\s*\(|\.Invoke\s*\(/
        $h1 = "IHttpHandler"
        $h2 = "<%@"
    condition:
        filesize < 500KB and any of ($h*) and any of ($req*) and any of ($dec*) and any of ($load*)
}

rule kensa_webshell_asp_file_manager
{
    meta:
        description = "Classic ASP file manager / uploader: FileSystemObject or ADODB.Stream on paths taken from the request"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1105"
        score = 60
    strings:
        $fso = /Scripting\.FileSystemObject|ADODB\.Stream/ nocase
        $req = /Request\s*(\.\s*(Form|QueryString|Item))?\s*\(\s*["']\w{1,20}["']\s*\)/ nocase
        $op1 = /\.\s*GetFolder\s*\(\s*(Request|Server\.MapPath\s*\(\s*Request)/ nocase
        $op2 = /\.\s*(OpenTextFile|CreateTextFile|DeleteFile|CopyFile|MoveFile)\s*\(\s*(Request|\w{1,20}\s*&)/ nocase
        $op3 = /\.\s*SaveToFile\s*\(/ nocase
        $op4 = /BinaryRead\s*\(/ nocase
        $op5 = /\.\s*GetFolder\s*\(/ nocase
        $op6 = /\.\s*CreateTextFile\s*\(/ nocase
        $var = /\b\w{1,20}\s*=\s*Request\s*(\.\s*(Form|QueryString|Item))?\s*\(\s*["']\w{1,20}["']\s*\)/ nocase
        $list = /\.\s*(SubFolders|Files)\b/ nocase
    condition:
        kensa_t_asp and filesize < 60KB and $fso and $req and
        (($list and ($op1 or $op2)) or ($op1 and $op2) or ($op4 and ($op3 or $op6)) or
         (filesize < 12KB and $var and $op5 and $list))
}

rule kensa_webshell_coldfusion
{
    meta:
        description = "ColdFusion shell: cfexecute, or cffile / cfdirectory on paths from the form or URL"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003"
        score = 70
    strings:
        $exe = /<cfexecute\b/ nocase
        $file = /<cf(file|directory)\b[^>]{0,300}#(form|url)\.\w+#/ nocase
        $sql = /<cfquery\b[^>]{0,200}datasource\s*=\s*["']#(form|url)\./ nocase
    condition:
        filesize < 500KB and any of them
}

// ---- JSP ---------------------------------------------------------------------------

rule kensa_webshell_jsp_define_class_from_request
{
    meta:
        description = "JSP: a class defined from decoded (and decrypted) request or session bytes — the Behinder/Godzilla loader and its memory-shell installers"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1620/"
        mitre_attack = "T1505.003, T1620"
        score = 85
    strings:
        $def = "defineClass"
        $dec1 = "getDecoder" 
        $dec2 = "decodeBuffer"
        $dec3 = "parseBase64Binary"
        $dec4 = /Cipher\s*\.\s*getInstance/
        $src1 = /request\s*\.\s*get(Reader|InputStream|Parameter)\s*\(/
        $src2 = /getSession\s*\(\s*\)\s*\.\s*(get|put)Value|session\s*\.\s*getAttribute/
        $mem1 = "addFilterMap"
        $mem2 = "FilterDef"
        $mem3 = "addServletMapping"
        $mem4 = "registerMapping"
        $cls = "yv66vg"
    condition:
        filesize < 1MB and $def and ($cls or (any of ($dec*) and (any of ($src*) or any of ($mem*))))
}

rule kensa_webshell_php_single_file_console
{
    meta:
        description = "Single-file PHP console: one page with a form that lists directories, writes, deletes or uploads files and runs commands or reports the host (the classic file manager + shell kits)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1083, T1059.004"
        score = 65
    strings:
        $open = /<\?(php|=|[ \t\r\n])/ nocase
        $form = /<form\b/ nocase
        $in = /\$_(POST|GET|REQUEST)\b|HTTP_(POST|GET)_VARS|register_globals|\$PHP_SELF\b/
        $c_list = /\b(opendir|readdir|scandir)\s*\(/
        $c_write = /\b(fwrite|fputs|file_put_contents)\s*\(/
        $c_del = /\b(unlink|rmdir|chmod)\s*\(/
        $c_up = /move_uploaded_file\s*\(|HTTP_POST_FILES|copy\s*\(\s*\$\w{1,20}\s*,\s*["$]/
        // register_globals-era markers no current application uses
        $old = /\$(PHP_SELF|DOCUMENT_ROOT|HTTP_POST_VARS|HTTP_GET_VARS|HTTP_POST_FILES)\b/
        $c_exec = /\b(system|passthru|shell_exec|popen|proc_open)\s*\(|\bexec\s*\(\s*\$/
        $c_recon = /\b(php_uname|posix_getpwuid|posix_getuid|getmyuid)\s*\(|uname\s+-a|ini_get\s*\(\s*["'](safe_mode|disable_functions|open_basedir)/
    condition:
        $open and filesize < 400KB and $form and $in and
        (($c_exec and 3 of ($c_list, $c_write, $c_del, $c_up, $c_recon)) or
         all of ($c_list, $c_write, $c_del, $c_up, $c_recon) or
         ($old and all of ($c_list, $c_write, $c_del, $c_up)))
}
