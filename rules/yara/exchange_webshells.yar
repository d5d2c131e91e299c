// SPDX-License-Identifier: Apache-2.0
//
// Web shells dropped in on-premises Exchange web roots, as in the Hafnium
// ProxyLogon intrusions (March 2021) and ProxyShell (2021): .aspx files
// under inetpub\wwwroot\aspnet_client, FrontEnd\HttpProxy\owa\auth and
// ecp\auth, often an Offline Address Book virtual directory dump whose
// ExternalUrl carries a China Chopper one-liner. These rules read the
// Loki/THOR external variables filepath and extension, which kensa sets
// for every file (declared empty when compiled).

rule kensa_exchange_webshell_in_exchange_path
{
    meta:
        description = "Server-side script with request-driven code in an Exchange web shell location (aspnet_client, owa/auth, ecp/auth)"
        author = "kensa"
        reference = "https://www.microsoft.com/en-us/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
        mitre_attack = "T1505.003, T1190"
        score = 95
    strings:
        $s1 = /runat\s*=\s*["']?server/ nocase
        $s2 = "<%" 
        $r1 = /Request\s*(\.Item|\.Form|\.QueryString)?\s*[\[\(]/ nocase
        $x1 = /\b(eval|execute)\s*\(/ nocase
        $x2 = "Process" nocase
        $x3 = /Assembly\s*\.\s*Load/ nocase
        $x4 = "WScript.Shell" nocase
        $x5 = "FromBase64String" nocase
    condition:
        filesize < 2MB
        and filepath matches /(aspnet_client|HttpProxy[\\\/]owa[\\\/]auth|[\\\/]owa[\\\/]auth[\\\/]|HttpProxy[\\\/]ecp[\\\/]auth|[\\\/]ecp[\\\/]auth[\\\/])/is
        and (extension == ".aspx" or extension == ".asp" or extension == ".ashx" or extension == ".asmx")
        and ($s1 or $s2) and $r1 and any of ($x*)
}

rule kensa_exchange_oab_vdir_webshell
{
    meta:
        description = "Exchange OAB virtual directory export carrying a script in ExternalUrl/InternalUrl (CVE-2021-27065 web shell)"
        author = "kensa"
        reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
        mitre_attack = "T1505.003, T1190"
        score = 95
    strings:
        $oab1 = "OfflineAddressBook" nocase
        $oab2 = "ExternalUrl" nocase
        $oab3 = "InternalUrl" nocase
        $oab4 = "OAB (Default Web Site)" nocase
        $sc = /<script[^>]{0,60}runat\s*=\s*["']?server/ nocase
        $ev = /\b(eval|execute)\s*\(\s*Request/ nocase
    condition:
        filesize < 200KB and 2 of ($oab*) and $sc and $ev
}

rule kensa_exchange_unexpected_aspx_in_aspnet_client
{
    meta:
        description = "Script file under aspnet_client: the folder normally holds no .aspx at all; review it"
        author = "kensa"
        reference = "https://github.com/microsoft/CSS-Exchange/tree/main/Security"
        mitre_attack = "T1505.003"
        score = 60
    strings:
        $s1 = /runat\s*=\s*["']?server/ nocase
        $s2 = "<%"
    condition:
        filesize < 5MB
        and filepath matches /aspnet_client/i
        and (extension == ".aspx" or extension == ".ashx" or extension == ".asmx" or extension == ".asp")
        and any of them
}
