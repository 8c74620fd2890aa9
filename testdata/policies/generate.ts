/**
 * Generates testdata/policies/*.json: the audit-policy examples of the SPS REST API reference
 * pages (../../../shared/seeds/, see README.md here), with their placeholders filled in with real
 * certificates, plus 8.0 LTS policies rebuilt from the 8.0 page's element tables and an invalid
 * policy for the CLI tests.
 *
 * Run: npx tsx testdata/policies/generate.ts   (needs the openssl CLI; reads testdata/certs/)
 *
 * Certificate strings are made by `openssl x509 -outform PEM` (LF line ends), written as JSON
 * strings: exactly the API form. Rerun this after testdata/certs/generate.sh.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const certs = join(here, "..", "certs");

/** The example certificate of the SPS pages ("Encrypting certificates"), as the API takes it. */
export const SPS_EXAMPLE_CERTIFICATE =
  "-----BEGIN CERTIFICATE-----\nMIIDnDCCAoQCCQDc536Ob5tPQTANBgkqhkiG9w0BAQUFADCBjzELMAkGA1UEBhMC\nQ0ExEDAOBgNVBAgTB09udGFyaW8xEDAOBgNVBAcTB1Rvcm9udG8xEDAOBgNVBAoT\nB0JhbGFiaXQxFjAUBgNVBAsTDURvY3VtZW50YXRpb24xEDAOBgNVBAMTB2JhbGFi\naXQxIDAeBgkqhkiG9w0BCQEWEWNhdGFpbEBiYWxhYml0Lmh1MB4XDTE2MDQyMjE2\nMDAyNloXDTE3MDQyMjE2MDAyNlowgY8xCzAJBgNVBAYTAkNBMRAwDgYDVQQIEwdP\nbnRhcmlvMRAwDgYDVQQHEwdUb3JvbnRvMRAwDgYDVQQKEwdCYWxhYml0MRYwFAYD\nVQQLEw1Eb2N1bWVudGF0aW9uMRAwDgYDVQQDEwdiYWxhYml0MSAwHgYJKoZIhvcN\nAQkBFhFjYXRhaWxAYmFsYWJpdC5odTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCC\nAQoCggEBAOGa9I2jmVlVdVWEI/Wy7ahTeyaIjK52FQUXqxG8okOSD+nV74ZFUuiS\n59X+2Ow1aDqVGrDMgPNhSVpYXUvDUAUOILJW4rAIoxDY6vDU9/4v9dDiQfEPlauw\n0qNRjPS1MLzjSOQDSKqPkdivkS6HKZeX3+TFq3OxO+vIrF9zFfp9T+eDG2oSobPc\n3mV2zkvtD61CXzbezAVdArDl6WnysRyzxyH8WEhFwZepWxFD9Y5N1dzKody7Hncs\nX5kVIv0+Z6bBHfg/7wHWysJdwNuLr0ByTOvPM6WdA83k3Fy2gYNk7Rc0BbRFbQTX\nhJVfUzSUWHVhFQtAb4diKU5voqepfNMCAwEAATANBgkqhkiG9w0BAQUFAAOCAQEA\nR5DIwOHsEKoGkiI3cHC2VMnxP2rRhpTneh6El+DFnQPdjrXa+tnqV4TdnNaD+FvP\nAB1kqbmC4hJAsjMLU2b1ne6m+SLmzhRuMxcA6x+fnYvcQT57IbRdq2E/4oJGeyuy\n0jQE+nmoVD3lDytIOxCfQvZhl1tcbBE5hp5USme4PmNhY6QfUlgjsFjPfoVG7XDB\nuNaUoWS6RvZPmL5IuvF9tqe96ES6DTjC8rBfQYvSoVNjjPnUMx0C8xstRSEG7oJc\nN5+4ImYnFNxSG20hZpFy0OFDf2g7Fx+W50/NtXamUF1Sf8WlPZc03oVl1/Fzo7mt\nqYyyD1ld89OUEYZ+aJQd/A==\n-----END CERTIFICATE-----\n";

/** A certificate of testdata/certs in API form, as openssl prints it. */
function api(name: string): string {
  return execFileSync("openssl", ["x509", "-in", join(certs, name), "-outform", "PEM"], { encoding: "utf8" });
}

const fill: Record<string, string> = {
  "<cert>": SPS_EXAMPLE_CERTIFICATE,
  "<cert1>": api("rsa2048-a.crt"),
  "<cert2>": api("rsa2048-b.crt"),
  "<cert3>": api("rsa2048-c.crt"),
  "<cert4>": api("rsa2048-d.crt"),
};

/** Replaces each `"<certN>"` placeholder string with the certificate's JSON string. */
function restore(text: string): string {
  return text.replace(/"(<cert[0-9]?>)"/g, (_, name: string) => JSON.stringify(fill[name]));
}

function write(name: string, text: string): void {
  const out = restore(text.replace(/^\n/, ""));
  JSON.parse(out); // every file must be JSON
  writeFileSync(join(here, name), out.endsWith("\n") ? out : `${out}\n`);
}

// --- SPS 6.10.0 page (004_52c421134752ef12.txt): examples copied verbatim -----------------------

write(
  "seed-6.10-list-response.json",
  `
{
  "items": [
    {
      "key": "78101850949e47437dd91d",
      "meta": {
        "href": "/api/configuration/policies/audit_policies/78101850949e47437dd91d"
      }
    },
    {
      "key": "9161063345713f11489305",
      "meta": {
        "href": "/api/configuration/policies/audit_policies/9161063345713f11489305"
      }
    },
    {
      "key": "1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
      "meta": {
        "href": "/api/configuration/policies/audit_policies/1e089e2a-76b4-4079-94e3-c83ebc74dc2e"
      }
    }
  ],
  "meta": {
    "first": "/api/configuration/policies/audit_policies",
    "href": "/api/configuration/policies/audit_policies",
    "last": "/api/configuration/policies/usermapping_policies",
    "next": "/api/configuration/policies/content_policies",
    "parent": "/api/configuration/policies",
    "previous": null,
    "transaction": "/api/transaction"
  }
}
`,
);

write(
  "seed-6.10-specific-policy.json",
  `
{
  "body": {
    "encryption": {
      "certificates": [
        {
          "certificate": "<cert1>",
          "four_eyes_certificate": "<cert2>"
        }
      ],
      "different_certificates_for_upstream": {
        "certificates": [
          {
            "certificate": "<cert3>",
            "four_eyes_certificate": "<cert4>"
          }
        ],
        "enabled": true
      },
      "enabled": true
    },
    "name": "<policy-name>",
    "signing": {
      "enabled": true,
      "x509_identity": {
        "key": "ec0b6604-37f6-4df6-bd2f-d7879a75b324",
        "meta": {
          "href": "/api/configuration/x509/ec0b6604-37f6-4df6-bd2f-d7879a75b324"
        }
      }
    },
    "timestamping_enabled": true
  },
  "key": "1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
  "meta": {
    "first": "/api/configuration/policies/audit_policies/78101850949e47437dd91d",
    "href": "/api/configuration/policies/audit_policies/1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
    "last": "/api/configuration/policies/audit_policies/1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
    "next": null,
    "parent": "/api/configuration/policies/audit_policies",
    "previous": "/api/configuration/policies/audit_policies/9161063345713f11489305",
    "transaction": "/api/transaction"
  }
}
`,
);

write(
  "seed-6.10-default.json",
  `
{
  "encryption": {
    "enabled": false
  },
  "name": "default",
  "signing": {
    "enabled": false
  },
  "timestamping_enabled": false
}
`,
);

write(
  "seed-6.10-upstream-only.json",
  `
{
  "encryption": {
    "certificates": [],
    "different_certificates_for_upstream": {
      "certificates": [
        {
          "certificate": "<cert>",
          "four_eyes_certificate": null
        }
      ],
      "enabled": true
    },
    "enabled": true
  },
  "name": "Upstream_only",
  "signing": {
    "enabled": false
  },
  "timestamping_enabled": false
}
`,
);

write(
  "seed-6.10-sign-and-timestamp.json",
  `
{
  "encryption": {
    "enabled": false
  },
  "name": "Sign_and_timestamp",
  "signing": {
    "enabled": true,
    "x509_identity": {
      "key": "9508db81-4a3f-45a7-a2b1-a86f71c56416",
      "meta": {
        "href": "/api/configuration/x509/9508db81-4a3f-45a7-a2b1-a86f71c56416"
      }
    }
  },
  "timestamping_enabled": true
}
`,
);

write(
  "seed-6.10-api-audit-pol.json",
  `
{
  "encryption": {
    "certificates": [
      {
        "certificate": "<cert>",
        "four_eyes_certificate": null
      }
    ],
    "different_certificates_for_upstream": {
      "enabled": false
    },
    "enabled": true
  },
  "name": "API_audit_pol",
  "signing": {
    "enabled": true,
    "x509_identity": {
      "key": "d0286f64-41aa-45e1-ab19-830ac2f99f57",
      "meta": {
        "href": "/api/configuration/x509/d0286f64-41aa-45e1-ab19-830ac2f99f57"
      }
    }
  },
  "timestamping_enabled": true
}
`,
);

// --- SPS 8.0 LTS page (000_6a48610f73b69c68.txt): the examples' bodies were lost in extraction;
// only their titles survive. Rebuilt in the 8.0 LTS shape from the page's element tables. ------

write(
  "seed-8.0-default-policy-response.json",
  `
{
  "body": {
    "encryption": {
      "enabled": false
    },
    "name": "default",
    "signing": {
      "enabled": false
    },
    "signing_and_timestamping_interval": 30,
    "timestamping": {
      "enabled": false
    }
  },
  "key": "78101850949e47437dd91d",
  "meta": {
    "href": "/api/configuration/policies/audit_policies/78101850949e47437dd91d",
    "parent": "/api/configuration/policies/audit_policies",
    "transaction": "/api/transaction"
  }
}
`,
);

write(
  "seed-8.0-upstream-only-request.json",
  `
{
  "encryption": {
    "certificates": [],
    "different_certificates_for_upstream": {
      "certificates": [
        {
          "certificate": "<cert>",
          "four_eyes_certificate": null
        }
      ],
      "enabled": true
    },
    "enabled": true
  },
  "name": "Upstream_only",
  "signing": {
    "enabled": false
  },
  "signing_and_timestamping_interval": 30,
  "timestamping": {
    "enabled": false
  }
}
`,
);

write(
  "seed-8.0-sign-local-timestamp.json",
  `
{
  "encryption": {
    "enabled": false
  },
  "name": "Sign_and_timestamp",
  "signing": {
    "enabled": true,
    "x509_identity": {
      "key": "9508db81-4a3f-45a7-a2b1-a86f71c56416",
      "meta": {
        "href": "/api/configuration/x509/9508db81-4a3f-45a7-a2b1-a86f71c56416"
      }
    }
  },
  "signing_and_timestamping_interval": 30,
  "timestamping": {
    "enabled": true,
    "server": {
      "selection": "local"
    }
  }
}
`,
);

write(
  "seed-8.0-remote-timestamp-oid.json",
  `
{
  "encryption": {
    "certificates": [
      {
        "certificate": "<cert1>",
        "four_eyes_certificate": "<cert2>"
      }
    ],
    "different_certificates_for_upstream": {
      "certificates": [
        {
          "certificate": "<cert3>",
          "four_eyes_certificate": "<cert4>"
        }
      ],
      "enabled": true
    },
    "enabled": true
  },
  "name": "Four_eyes_remote_TSA",
  "signing": {
    "enabled": true,
    "x509_identity": "ec0b6604-37f6-4df6-bd2f-d7879a75b324"
  },
  "signing_and_timestamping_interval": 600,
  "timestamping": {
    "enabled": true,
    "server": {
      "oid": {
        "enabled": true,
        "policy_oid": "1.3.6.1.4.1.99999.1"
      },
      "selection": "remote",
      "server_url": "http://tsa.example.com/tsr"
    }
  }
}
`,
);

// --- Invalid on purpose (for the CLI tests): one problem per rule family -----------------------

write(
  "invalid-several-errors.json",
  `
{
  "key": "1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
  "body": {
    "encryption": {
      "certificates": [
        {
          "certificate": "<cert1>",
          "four_eyes_certificate": null
        },
        {
          "certificate": "<cert2>",
          "four_eyes_certificate": "<cert2>"
        }
      ],
      "different_certificates_for_upstream": {
        "enabled": false
      },
      "enabled": true
    },
    "name": "audit policy",
    "signing": {
      "enabled": true
    },
    "signing_and_timestamping_interval": 5,
    "timestamping": {
      "enabled": true,
      "server": {
        "oid": {
          "enabled": true,
          "policy_oid": "1.3.6.1.4.1.99999.1"
        },
        "selection": "local"
      }
    },
    "colour": "blue"
  }
}
`,
);

// --- Content policies (6.10.0 page, "Real-time content monitoring with Content Policies") ------

// The page's sample response, verbatim: a REST object with its body only.
write(
  "content-6.10-window-title.json",
  `
{
  "body": {
    "name": "example-content-policy-window-title",
    "rules": [
      {
        "actions": {
          "log": true,
          "notify": true,
          "store_in_connection_database": true,
          "terminate": false
        },
        "event": {
          "ignore": [],
          "match": [
            "mmc.exe"
          ],
          "selection": "window_title"
        },
        "gateway_groups": [],
        "remote_groups": []
      }
    ]
  }
}
`,
);

// The page's answer to a POST: the key of the new policy (a reference).
write(
  "content-6.10-post-response.json",
  `
{
  "key": "1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
  "meta": {
    "href": "/api/configuration/policies/content_policies/1e089e2a-76b4-4079-94e3-c83ebc74dc2e",
    "parent": "/api/configuration/policies/content_policies",
    "transaction": "/api/transaction"
  }
}
`,
);

// Rebuilt from the page's element tables: one rule per selection, the page's example values for
// ignore ("mmc.exe", "cmd.exe") and the groups, an escaped quote as the page says (.*\\').
write(
  "content-rules.json",
  `
{
  "name": "dangerous-commands",
  "rules": [
    {
      "actions": {
        "log": true,
        "notify": true,
        "store_in_connection_database": true,
        "terminate": true
      },
      "event": {
        "ignore": ["rm -rf \\\\./build"],
        "match": ["rm\\\\s+-rf\\\\s+/", "shutdown", "echo .*\\\\'"],
        "selection": "command"
      },
      "gateway_groups": ["group1", "group2"],
      "remote_groups": ["group1", "group3"]
    },
    {
      "actions": {
        "log": true,
        "notify": false,
        "store_in_connection_database": true,
        "terminate": false
      },
      "event": {
        "ignore": [],
        "match": ["BEGIN (RSA|OPENSSH) PRIVATE KEY"],
        "selection": "screen_content"
      },
      "gateway_groups": [],
      "remote_groups": []
    },
    {
      "actions": {
        "log": true,
        "notify": true,
        "store_in_connection_database": false,
        "terminate": false
      },
      "event": {
        "ignore": [],
        "match": [],
        "selection": "creditcard"
      },
      "gateway_groups": [],
      "remote_groups": []
    },
    {
      "actions": {
        "log": true,
        "notify": true,
        "store_in_connection_database": true,
        "terminate": false
      },
      "event": {
        "ignore": ["mmc.exe", "cmd.exe"],
        "match": ["\\\\.exe"],
        "selection": "window_title"
      },
      "gateway_groups": [],
      "remote_groups": []
    }
  ]
}
`,
);

// Invalid on purpose: one planted problem of each kind (see README.md).
write(
  "invalid-content.json",
  `
{
  "key": "9c1e",
  "body": {
    "name": "content policy",
    "rules": [
      {
        "actions": {
          "log": true,
          "notify": "yes",
          "store_in_connection_database": true
        },
        "event": {
          "ignore": [],
          "match": ["(\\\\w+)\\\\1", "it's", "a(?=b)", "a["],
          "selection": "commands"
        },
        "gateway_groups": "group1",
        "remote_groups": []
      },
      {
        "actions": {
          "log": true,
          "notify": false,
          "store_in_connection_database": false,
          "terminate": false
        },
        "event": {
          "match": [],
          "selection": "screen_content"
        },
        "colour": "blue"
      }
    ]
  }
}
`,
);
