// SPDX-License-Identifier: Apache-2.0
//
// kensa's web shell rules, third set (issue 20): the shell families the
// first two sets missed, one rule per technique — database consoles that
// take the server, login and query from the page, command runners whose
// function or process object is chosen at run time, PHP restriction
// bypasses (stream wrappers, LD_PRELOAD), scripts carrying a back-connect
// program to drop, .NET Process objects driven by the request, JSP pages
// that hand request parameters to Runtime/File, classic ASP writers and
// loaders of code fetched over HTTP, Java classes and PE files carried as
// literals, pages saved as UTF-16, ASP substitution alphabets, code in
// EXIF fields, JDBC consoles and table dumpers. Never a sample's hash or its own
// strings. Written looking at the even half of the collection only;
// tests/unit/test_yara_quality.c measures the odd half apart, and false
// positives on real applications (scripts/benign-trees.sh: WordPress,
// phpMyAdmin, Adminer, Cacti, Zabbix, Tomcat examples, Mono's ASP.NET...).
// Severity comes from meta score (Loki/THOR scale, see docs/FILES.md).

private rule kensa_f_php
{
    strings:
        $open = /<\?(php|=|[ \t\r\n])/ nocase
    condition:
        $open
}

private rule kensa_f_asp
{
    strings:
        $a = "<%"
        $b = /runat\s*=\s*["']?server/ nocase
    condition:
        $a or $b
}

// ---- PHP --------------------------------------------------------------------------

rule kensa_webshell_php_db_console
{
    meta:
        description = "PHP database console: connects with the server, login and password the page's visitor typed, and runs the query they typed (register_globals-era kits and their $_POST successors)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1213"
        score = 60
    strings:
        // credentials straight from the request
        $conn_req = /\b(mysqli?|mssql|pg|sqlsrv|oci)_(p?connect|real_connect)\s*\(\s*(\$\w{1,20}\s*,\s*)?@?\$_(POST|GET|REQUEST|COOKIE)\s*\[/ nocase
        $conn_new = /new\s+(mysqli|PDO)\s*\(\s*(["'][^"']{0,20}["']\s*\.\s*)?@?\$_(POST|GET|REQUEST|COOKIE)\s*\[/ nocase
        // or from register_globals variables, on a page built around $PHP_SELF
        $conn_var = /\b(mysql|mssql|pg|oci)_p?connect\s*\(\s*["']?\$\w{1,20}["']?\s*,\s*["']?\$\w{1,20}["']?\s*,\s*["']?\$\w{1,20}/ nocase
        $glob = /\$PHP_SELF\b|HTTP_(POST|GET|COOKIE)_VARS|\$_COOKIE\s*\[\s*["']\w{0,20}(user|pass)/ nocase
        $pass_form = /<input[^>]{0,60}type\s*=\s*\\?["']?password/ nocase
        $query = /\b(mysqli?|mssql|pg|sqlsrv|oci)_(query|exec|parse|unbuffered_query)\s*\(\s*(\$\w{1,20}\s*,\s*)?(stripslashes\s*\(\s*|urldecode\s*\(\s*)?(\$_(POST|GET|REQUEST|COOKIE)\s*\[|\$(sql|query|q|queryStr|sqlquery|sql_query)\w{0,10}\b)/ nocase
        $cookie_creds = /setcookie\s*\(\s*["'][^"']{0,40}(user|pass|host|login)[^"']{0,20}["']\s*,\s*\$/ nocase
    condition:
        kensa_f_php and filesize < 600KB and $query and
        (any of ($conn_req, $conn_new) or ($conn_var and $glob and ($pass_form or $cookie_creds)))
}

rule kensa_webshell_php_command_function_variable
{
    meta:
        description = "PHP command runner that picks its command function at run time: a variable set to exec/passthru/system/shell_exec and called with a command line"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/004/"
        mitre_attack = "T1505.003, T1059.004, T1027"
        score = 70
    strings:
        $pick = /\$\w{1,20}\s*=\s*["'](exec|passthru|system|shell_exec|popen|proc_open)["']\s*;/ nocase
        // the variable function given a command line (stderr joined to the output)
        $call1 = /\$\w{1,20}\s*\(\s*["']?\$\w{1,20}[^;)]{0,20}2\s*>\s*&\s*1/
        $call2 = /(^|[;{}\s])\$\w{1,20}\s*\(\s*\$(cmd|command|comando|komut|c)\b/ nocase
    condition:
        kensa_f_php and filesize < 400KB and #pick >= 2 and any of ($call*)
}

rule kensa_webshell_php_restriction_bypass
{
    meta:
        description = "PHP page that reads files or runs commands past safe_mode / open_basedir / disable_functions: request-chosen paths through compress.zlib:// or file://, ini_restore of the limits, LD_PRELOAD with mail()"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1211/"
        mitre_attack = "T1505.003, T1211"
        score = 70
    strings:
        $wrap = /(copy|fopen|file_get_contents|readfile|file|include|highlight_file|show_source)\s*\(\s*["'](compress\.zlib|compress\.bzip2|glob|file):\/\/["']\s*\.\s*\$/ nocase
        $curl = /curl_init\s*\(\s*["']file:\/\/["']?\s*\.?\s*\$/ nocase
        $restore = /ini_restore\s*\(\s*["'](safe_mode|open_basedir|disable_functions)["']/ nocase
        $preload = /putenv\s*\(\s*["']LD_PRELOAD=/ nocase
        $trigger = /\b(mail|mb_send_mail|error_log|imap_mail)\s*\(/ nocase
        $req = /\$_(POST|GET|REQUEST|COOKIE)\b|HTTP_(POST|GET)_VARS/
    condition:
        kensa_f_php and filesize < 400KB and $req and
        (any of ($wrap, $curl, $restore) or ($preload and $trigger))
}

rule kensa_webshell_php_drops_backconnect
{
    meta:
        description = "PHP page carrying the source of a back-connect or bind program (C or Perl with sockets and /bin/sh) that it writes out to compile or run"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/"
        mitre_attack = "T1505.003, T1059, T1105"
        score = 75
    strings:
        $c_sock = "#include <sys/socket.h>"
        $c_exec = /exec[lv]p?e?\s*\(\s*\\?["']\/bin\/(ba)?sh/
        $c_bsh = "_PATH_BSHELL"
        $pl_sock = /use\s+(Socket|IO::Socket)/
        $pl_exec = /exec\s*\(?\s*\\?["'][^"'\r\n]{0,10}\/bin\/(ba)?sh/
        $write = /\b(fwrite|fputs|file_put_contents)\s*\(/ nocase
    condition:
        kensa_f_php and filesize < 600KB and $write and
        (($c_sock and ($c_exec or $c_bsh)) or ($pl_sock and $pl_exec))
}

rule kensa_webshell_php_filler_name
{
    meta:
        description = "PHP: a function name (create_function, base64_decode, gzinflate, assert, eval) hidden with filler letters that str_replace strips before the call"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 75
    strings:
        $cf = /str_replace\s*\(\s*["'][^"']{1,4}["']\s*,\s*["']["']\s*,\s*["']\w{0,3}c\w{0,3}r\w{0,3}e\w{0,3}a\w{0,3}t\w{0,3}e\w{0,3}_\w{0,3}f\w{0,3}u\w{0,3}n\w{0,3}c\w{0,3}t\w{0,3}i\w{0,3}o\w{0,3}n/ nocase
        $b64 = /str_replace\s*\(\s*["'][^"']{1,4}["']\s*,\s*["']["']\s*,\s*["']\w{0,3}b\w{0,3}a\w{0,3}s\w{0,3}e\w{0,3}6\w{0,3}4\w{0,3}_\w{0,3}d\w{0,3}e\w{0,3}c\w{0,3}o\w{0,3}d\w{0,3}e/ nocase
        $gz = /str_replace\s*\(\s*["'][^"']{1,4}["']\s*,\s*["']["']\s*,\s*["']\w{0,3}g\w{0,3}z\w{0,3}i\w{0,3}n\w{0,3}f\w{0,3}l\w{0,3}a\w{0,3}t\w{0,3}e/ nocase
        $as = /str_replace\s*\(\s*["'][^"']{1,4}["']\s*,\s*["']["']\s*,\s*["']\w{0,3}a\w{0,3}s\w{0,3}s\w{0,3}e\w{0,3}r\w{0,3}t\w{0,3}["']/ nocase
        // the name is not already plain
        $plain = /str_replace\s*\(\s*["'][^"']{1,4}["']\s*,\s*["']["']\s*,\s*["'](create_function|base64_decode|gzinflate|assert)["']/ nocase
        $call = /(^|[;{}\s=(])@?\$\w{1,30}\s*\(/
    condition:
        kensa_f_php and filesize < 100KB and any of ($cf, $b64, $gz, $as) and not $plain and $call
}

rule kensa_webshell_php_sql_outfile_plant
{
    meta:
        description = "PHP page that plants a PHP shell through SQL: INTO OUTFILE / DUMPFILE of a string holding PHP code that runs request input"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1190"
        score = 70
    strings:
        $out = /INTO\s+(OUT|DUMP)FILE/ nocase
        $code = /<\?(php)?\s*(@\s*)?(system|eval|assert|passthru|shell_exec|exec)\s*\(\s*(\\?\$_(GET|POST|REQUEST|COOKIE)|stripslashes)/ nocase
    condition:
        kensa_f_php and filesize < 200KB and $out and $code
}

// ---- ASP / ASP.NET -----------------------------------------------------------------

rule kensa_webshell_dotnet_process_runner
{
    meta:
        description = "ASP.NET page that builds a Process object itself (New Process, StartInfo set field by field) and starts cmd with \"/c \" and text from the request or a form box"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/003/"
        mitre_attack = "T1505.003, T1059.003"
        score = 80
    strings:
        $new = /New\s+(System\.Diagnostics\.)?Process\s*(\(\s*\))?\s*[\r\n;]|new\s+(System\.Diagnostics\.)?Process\s*\(\s*\)/ nocase
        $start = /\.\s*Start\s*\(\s*\)/
        $args = /\.?Arguments\s*=\s*["']\s*\/[ck]\s/ nocase
        $file = /\.?FileName\s*=\s*["'][^"']{0,40}(cmd(\.exe)?|powershell(\.exe)?)["']/ nocase
        $req = /Request\s*(\.\s*(Form|QueryString|Item|Params))?\s*[\[\(]|\.Text\b/ nocase
    condition:
        kensa_f_asp and filesize < 1MB and $new and $start and ($args or $file) and $req
}

rule kensa_webshell_db_console_connstring
{
    meta:
        description = "ASP / ASP.NET / JSP database console: a connection string or JDBC login built from what the visitor typed, and statements run from the page (SQL Server / Oracle / MySQL dump and query tools)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003, T1213"
        score = 60
    strings:
        $cs_net = /(Data\s*Source|Server|User\s*Id|Password|pwd|uid)\s*=\s*["']\s*\+\s*(\w{1,30}\.Text|Request\s*[\[\(.])/ nocase
        $cs_asp = /(Server|User\s*ID|Password|pwd|uid)\s*=\s*["']\s*&\s*(\w{1,30}\s*&|Request\s*[\(.])/ nocase
        $cs_asp_req = /\w{1,30}\s*=\s*(Trim\s*\(\s*)?Request\s*(\.\s*(Form|QueryString))?\s*\(\s*["']\w{0,20}(pwd|pass|uid|user|server|conn|dbstr)\w{0,10}["']\s*\)/ nocase
        $cs_jdbc = /DriverManager\s*\.\s*getConnection\s*\(\s*(request\s*\.\s*getParameter|\w{1,20}\s*,\s*request\s*\.\s*getParameter)/
        $run_net = /new\s+(SqlCommand|OleDbCommand|OdbcCommand)\s*\(\s*(\w{1,30}\.Text|Request|["'](sp_|xp_))/ nocase
        $run_asp = /\.\s*Execute\s*\(?\s*(Request|s?sql\w{0,10}\b)/ nocase
        $run_jsp = /\.\s*(executeQuery|execute|executeUpdate)\s*\(\s*(request\s*\.\s*getParameter|sql\w{0,10}\s*\))/
        $adodb = /ADODB\.Connection/ nocase
    condition:
        filesize < 600KB and
        (($cs_net and $run_net) or
         (kensa_f_asp and $adodb and ($cs_asp or $cs_asp_req) and $run_asp) or
         ($cs_jdbc and $run_jsp))
}

rule kensa_webshell_asp_request_file_writer
{
    meta:
        description = "Classic ASP writer (the small 'xiaoma' uploaders): FileSystemObject or ADODB.Stream writes request-supplied text to a request-chosen path"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1105/"
        mitre_attack = "T1505.003, T1105"
        score = 65
    strings:
        $fso = /Scripting\.FileSystemObject|ADODB\.Stream/ nocase
        $open = /\.\s*(CreateTextFile|OpenTextFile)\s*\(\s*(Server\.MapPath\s*\(\s*)?(Request\s*(\.\s*(Form|QueryString))?\s*\(|\w{1,20}\s*[,)])/ nocase
        $assign = /\b\w{1,20}\s*=\s*Request\s*(\.\s*(Form|QueryString|Item))?\s*\(\s*["']\w{1,20}["']\s*\)/ nocase
        $write = /\.\s*(Write|WriteLine)\s*[\s(]\s*(Request\s*(\.\s*(Form|QueryString))?\s*\(|\w{1,20}\s*([\r\n)%':]|$))/ nocase
    condition:
        kensa_f_asp and filesize < 20KB and $fso and $open and #assign >= 2 and $write
}

rule kensa_webshell_asp_remote_code_exec
{
    meta:
        description = "Classic ASP loader: code fetched over HTTP (ServerXMLHTTP / XMLHTTP) and run with Execute / ExecuteGlobal"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1105/"
        mitre_attack = "T1505.003, T1105, T1059.005"
        score = 75
    strings:
        $http = /(Msxml2\.ServerXMLHTTP|Microsoft\.XMLHTTP|WinHttp\.WinHttpRequest)/ nocase
        $body = /\.\s*(responseBody|responseText)\b/ nocase
        $exec = /(^|[\r\n:])\s*(execute|executeglobal)\s*\(?\s*[a-z_]\w{0,30}\s*\)?\s*(\r?\n|%>|:|$)/ nocase
    condition:
        kensa_f_asp and filesize < 200KB and $http and $body and $exec
}

rule kensa_webshell_asp_server_variables_dump
{
    meta:
        description = "ASP page that prints every server variable (name and value) to whoever asks: reconnaissance pages dropped beside shells; a diagnostics page left on a live site discloses the same"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1082/"
        mitre_attack = "T1505.003, T1082"
        score = 45
    strings:
        $each = /For\s+Each\s+(\w{1,20})\s+In\s+Request\.ServerVariables\b/ nocase
        $val = /Request\.ServerVariables\s*\(\s*[a-z_]\w{0,20}\s*\)/ nocase
    condition:
        kensa_f_asp and filesize < 100KB and $each and $val
}

// ---- JSP --------------------------------------------------------------------------

rule kensa_webshell_jsp_request_to_runtime
{
    meta:
        description = "JSP page that hands a request parameter or header, however it reaches it (pageContext.getRequest(), a decoder), to Runtime.exec or ProcessBuilder"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1059/"
        mitre_attack = "T1505.003, T1059"
        score = 80
    strings:
        $req = /(getRequest\s*\(\s*\)|request)\s*\.\s*(getParameter|getHeader|getParameterValues|getParameterMap)\s*\(/
        $x1 = /getRuntime\s*\(\s*\)\s*\.\s*exec\s*\(/
        $x2 = /new\s+ProcessBuilder\s*\(/
        $jsp1 = "<%"
        $jsp2 = "<jsp:scriptlet"
        $jsp3 = "<jsp:root"
    condition:
        filesize < 1MB and any of ($jsp*) and $req and any of ($x*)
}

rule kensa_webshell_jsp_request_chosen_file
{
    meta:
        description = "JSP file browser or reader: a File built straight from a request parameter, then listed or streamed back"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1083/"
        mitre_attack = "T1505.003, T1083, T1005"
        score = 65
    strings:
        $file = /new\s+(java\.io\.)?File\s*\(\s*request\s*\.\s*getParameter\s*\(/
        $list = /\.\s*listFiles\s*\(\s*\)/
        $read = /new\s+(java\.io\.)?FileInputStream\s*\(/
        $jsp = "<%"
    condition:
        filesize < 200KB and $jsp and $file and ($list or $read)
}

// ---- any server page ----------------------------------------------------------------

rule kensa_webshell_embedded_class_or_assembly
{
    meta:
        description = "Server page (JSP, ASP.NET, PHP) carrying a compiled Java class or a Windows PE / .NET assembly as a Base64 or hex literal: the payload of a class or assembly loader, or a memory shell installer"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1620/"
        mitre_attack = "T1505.003, T1620, T1027"
        score = 75
    strings:
        $class_b64 = /["']yv66vg[A-Za-z0-9+\/]{400}/
        $class_hex = /["']cafebabe0000[0-9a-f]{400}/ nocase
        $pe_b64 = /["']TVqQAAMAAAAEAAAA[A-Za-z0-9+\/]{400}/
        $pe_hex = /["']4d5a90000300000004000000[0-9a-f]{400}/ nocase
        // a class literal kept in a variable, in a fragment with no page markup
        $class_var = /\b\w{1,30}\s*=\s*["']yv66vg[A-Za-z0-9+\/]{400}/
        $jsp = "<%"
        $jsp2 = "<jsp:"
        $php = /<\?(php|=|[ \t\r\n])/ nocase
        $aspx = /runat\s*=\s*["']?server/ nocase
    condition:
        filesize < 5MB and ((any of ($jsp, $jsp2, $php, $aspx) and any of ($class*, $pe*)) or $class_var)
}

rule kensa_webshell_utf16_server_page
{
    meta:
        description = "ASP / ASP.NET / JSP page saved as UTF-16 (a byte-oriented scanner sees no text) whose code starts processes, touches files or loads code"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027"
        score = 70
    strings:
        $dir = "<%@" wide
        $d1 = "ProcessStartInfo" wide nocase
        $d2 = "cmd.exe" wide nocase
        $d3 = "WScript.Shell" wide nocase
        $d4 = "Scripting.FileSystemObject" wide nocase
        $d5 = "Assembly.Load" wide nocase
        $d6 = "getRuntime" wide
        $d7 = "FromBase64String" wide nocase
        $d8 = "Request" wide
        $d9 = "Process.Start" wide nocase
    condition:
        filesize < 5MB and (uint16(0) == 0xfeff or $dir in (0..64)) and $dir and $d8 and
        2 of ($d1, $d2, $d3, $d4, $d5, $d6, $d7, $d9)
}

// ---- more ASP / ASP.NET -------------------------------------------------------------

rule kensa_webshell_aspx_capability_imports
{
    meta:
        description = "ASP.NET page importing the namespaces of a whole intrusion kit at once: processes, WMI, registry, sockets, directory services, Windows services, native calls, databases"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1505/003/"
        mitre_attack = "T1505.003"
        score = 65
    strings:
        $n1 = /Import\s+Namespace\s*=\s*["']System\.Diagnostics["']/ nocase
        $n2 = /Import\s+Namespace\s*=\s*["']System\.Management["']/ nocase
        $n3 = /Import\s+Namespace\s*=\s*["']Microsoft\.Win32["']/ nocase
        $n4 = /Import\s+Namespace\s*=\s*["']System\.Net\.Sockets["']/ nocase
        $n5 = /Import\s+Namespace\s*=\s*["']System\.DirectoryServices["']/ nocase
        $n6 = /Import\s+Namespace\s*=\s*["']System\.ServiceProcess["']/ nocase
        $n7 = /Import\s+Namespace\s*=\s*["']System\.Runtime\.InteropServices["']/ nocase
        $n8 = /Import\s+Namespace\s*=\s*["']System\.Data\.(OleDb|SqlClient)["']/ nocase
    condition:
        filesize < 2MB and 6 of them
}

rule kensa_webshell_asp_substitution_alphabet
{
    meta:
        description = "Classic ASP page holding a substitution alphabet (an Array of dozens of one-character strings) and running the decoded text with Execute"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/"
        mitre_attack = "T1505.003, T1027, T1140"
        score = 75
    strings:
        $alpha = /Array\s*\(\s*("[^"\r\n]{1,2}"\s*,\s*){40,}/ nocase
        $exec = /\b(execute|executeglobal)\b\s*\(?\s*[a-z_]\w{0,30}/ nocase
    condition:
        kensa_f_asp and filesize < 2MB and $alpha and $exec
}

// ---- more PHP / JSP -----------------------------------------------------------------

rule kensa_webshell_php_exec_image_metadata
{
    meta:
        description = "PHP that runs code hidden in an image's EXIF fields (exif_read_data then eval of UserComment, Make, Model...)"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1027/003/"
        mitre_attack = "T1505.003, T1027.003"
        score = 80
    strings:
        $exif = /exif_read_data\s*\(/ nocase
        $ev = /\b(eval|assert)\s*\([^;]{0,60}\[\s*["'](UserComment|Make|Model|ImageDescription|Artist|Copyright|Software|COMPUTED)["']\s*\]/ nocase
        $rx = /preg_replace\s*\([^;]{0,60}\[\s*["'](Make|Model|UserComment)["']\s*\]/ nocase
    condition:
        kensa_f_php and filesize < 200KB and $exif and ($ev or $rx)
}

rule kensa_webshell_jsp_db_console
{
    meta:
        description = "JSP database console or table dumper: JDBC credentials and SQL taken from request parameters, or every table written out as INSERT statements"
        author = "kensa"
        reference = "https://attack.mitre.org/techniques/T1005/"
        mitre_attack = "T1505.003, T1213, T1005"
        score = 60
    strings:
        $jdbc = /DriverManager\s*\.\s*getConnection\s*\(/
        $pw = /getParameter\s*\(\s*"[^"]{0,30}(pass|pwd)[^"]{0,10}"\s*\)/ nocase
        $sql = /getParameter\s*\(\s*"[^"]{0,20}(sql|query)[^"]{0,20}"\s*\)/ nocase
        $exec = /\.\s*(executeQuery|execute|executeUpdate)\s*\(\s*\w{0,20}\s*\)/
        $tables = /(from\s+(user_tab_comments|user_tables|all_tables|dba_tables|information_schema\.tables|sysobjects)|show\s+tables)/ nocase
        $insert = /["']INSERT\s+INTO\s+["']\s*\+/ nocase
        $jsp = "<%"
    condition:
        $jsp and filesize < 600KB and $jdbc and $exec and
        (($pw and $sql) or ($tables and $insert))
}
