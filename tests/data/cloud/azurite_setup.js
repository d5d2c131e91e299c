// SPDX-License-Identifier: Apache-2.0
// Prepares Azurite for test_cloud: containers with each public access level
// and a few blobs, plus one with many blobs for pagination. Uses the
// emulator's documented well-known development account (not a secret).
// usage: node azurite_setup.js PORT BIG_COUNT [MANY_CONTAINERS]
const { BlobServiceClient, StorageSharedKeyCredential } = require("@azure/storage-blob");

async function main() {
  const port = process.argv[2];
  const big = parseInt(process.argv[3] || "0", 10);
  const many = parseInt(process.argv[4] || "0", 10);
  const account = "devstoreaccount1";
  const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
  const cred = new StorageSharedKeyCredential(account, key);
  const svc = new BlobServiceClient(`http://127.0.0.1:${port}/${account}`, cred);
  const levels = { private: undefined, blobonly: "blob", open: "container" };
  for (const [name, access] of Object.entries(levels)) {
    const c = svc.getContainerClient(name);
    await c.create(access ? { access } : {});
    for (const blob of ["customers.csv", "notes/mail.eml", "report.pdf"]) {
      const body = `sample ${name} ${blob}\n`;
      await c.getBlockBlobClient(blob).upload(body, body.length, {
        blobHTTPHeaders: { blobContentType: blob.endsWith(".csv") ? "text/csv" : "application/octet-stream" },
      });
    }
  }
  for (let i = 0; i < many; i++) {
    const c = svc.getContainerClient(`bench${String(i).padStart(4, "0")}`);
    await c.create(i % 2 ? { access: "container" } : {});
    for (let k = 0; k < 5; k++) await c.getBlockBlobClient(`f${k}.txt`).upload("data", 4);
  }
  if (big > 0) {
    const c = svc.getContainerClient("big");
    await c.create({ access: "container" });
    const jobs = [];
    for (let i = 0; i < big; i++) {
      jobs.push(c.getBlockBlobClient(`obj-${String(i).padStart(6, "0")}`).upload("x", 1));
      if (jobs.length >= 64) await Promise.all(jobs.splice(0));
    }
    await Promise.all(jobs);
  }
}
main().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
