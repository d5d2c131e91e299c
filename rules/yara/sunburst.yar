// SPDX-License-Identifier: Apache-2.0
//
// SUNBURST: the backdoor compiled into SolarWinds Orion's
// SolarWinds.Orion.Core.BusinessLayer.dll (2019.4 HF5 .. 2020.2.1),
// signed with SolarWinds' certificate. Public reporting (FireEye,
// Microsoft, December 2020) names the injected class
// OrionImprovementBusinessLayer, its methods, and the 64-bit FNV-1a hash
// scheme whose results it XORs with 6605813339339102567
// (0x5BAC903BA7D81967, little-endian bytes below). Known file hashes are in
// rules/ioc/sunburst-hashes.txt; C2 domains in rules/ioc/sunburst-c2.txt.

rule kensa_sunburst_orion_businesslayer
{
    meta:
        description = "SUNBURST backdoor in a .NET assembly (trojanized SolarWinds.Orion.Core.BusinessLayer.dll)"
        author = "kensa"
        reference = "https://www.mandiant.com/resources/blog/evasive-attacker-leverages-solarwinds-supply-chain-compromises-with-sunburst-backdoor"
        mitre_attack = "T1195.002, T1071.004, T1568.002"
        score = 100
    strings:
        $cls = "OrionImprovementBusinessLayer" ascii wide
        $m1 = "CollectSystemDescription" ascii wide
        $m2 = "UpdateNotification" ascii wide
        $m3 = "GetOrCreateUserID" ascii wide
        $m4 = "IsNullOrInvalidName" ascii wide
        $m5 = "DelayMin" ascii wide
        $m6 = "GetFileSystemEntries" ascii wide
        $xor = { 67 19 D8 A7 3B 90 AC 5B }
    condition:
        uint16(0) == 0x5A4D and filesize < 5MB and $cls and (2 of ($m*) or $xor)
}

rule kensa_sunburst_businesslayer_name_xor
{
    meta:
        description = "SolarWinds.Orion.Core.BusinessLayer.dll carrying the SUNBURST FNV-1a XOR constant"
        author = "kensa"
        reference = "https://www.microsoft.com/en-us/security/blog/2020/12/18/analyzing-solorigate-the-compromised-dll-file-that-started-a-sophisticated-cyberattack-and-how-microsoft-defender-helps-protect/"
        mitre_attack = "T1195.002"
        score = 90
    strings:
        $xor = { 67 19 D8 A7 3B 90 AC 5B }
    condition:
        uint16(0) == 0x5A4D and filename matches /^SolarWinds\.Orion\.Core\.BusinessLayer\.dll$/i and $xor
}
