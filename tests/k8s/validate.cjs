// Validates Kubernetes manifests against the Kubernetes API schema, strictly.
//
//   node validate.cjs FILE...      (scripts/k8s-validate.sh sets K8S_VALIDATOR_MODULES and runs it)
//
// Every YAML document of every FILE is checked with the JSON-schema validator that the npm package
// kubernetes-models generates from the Kubernetes OpenAPI definitions, for its apiVersion and kind:
// types, enums, formats and required fields. That schema allows fields it does not define (as the
// OpenAPI document does), which the API server drops or rejects; here they are errors too: every
// object is watched while the validator reads it, and a key the validator never read is a field no
// schema on its path defines (a misspelt `timezone`, `envfrom`). Maps (labels, resources.requests)
// are read whole by the validator, so their keys are never reported.
//
// Prints one JSON line per document on stdout: {"file", "index", "apiVersion", "kind", "name",
// "errors": [...]}. Exits 0 when every document is valid, 1 when one is not, 2 when a file cannot be
// read or parsed or a document names an apiVersion/kind the package does not know.
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const modules = process.env.K8S_VALIDATOR_MODULES;
if (!modules) {
    console.error("validate.cjs: set K8S_VALIDATOR_MODULES to the directory holding node_modules (scripts/k8s-validate.sh does)");
    process.exit(2);
}
const requireHere = createRequire(path.join(path.resolve(modules), "package.json"));
const YAML = requireHere("yaml");

// The generated validator of apiVersion/kind: the model class module names its schema file
// (_schemas/IoK8sApi<Group><Version><Kind>.js), which the package does not export by name.
function schemaValidator(apiVersion, kind) {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    const modelId = `kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`;
    let modelFile;
    try {
        modelFile = requireHere.resolve(modelId);
    } catch {
        return null;
    }
    const match = /_schemas\/(IoK8s\w+)\.js/.exec(fs.readFileSync(modelFile, "utf8"));
    if (!match) return null;
    let dir = path.dirname(modelFile);
    while (!fs.existsSync(path.join(dir, "_schemas")) && dir !== path.dirname(dir)) dir = path.dirname(dir);
    return require(path.join(dir, "_schemas", `${match[1]}.js`)).validate;
}

// A copy of `value` whose objects record which of their keys are read, into `reads` (path -> read?).
function watched(value, where, reads) {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v, i) => watched(v, `${where}/${i}`, reads));
    const copy = {};
    for (const [k, v] of Object.entries(value)) {
        copy[k] = watched(v, `${where}/${k}`, reads);
        reads.set(`${where}/${k}`, false);
    }
    return new Proxy(copy, {
        get(target, key, receiver) {
            if (typeof key === "string" && Object.hasOwn(target, key)) reads.set(`${where}/${key}`, true);
            return Reflect.get(target, key, receiver);
        },
    });
}

function describe(e) {
    const at = e.instancePath || "/";
    const params = Object.entries(e.params || {})
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join(", ");
    return `${at}: ${e.message || e.keyword}${params ? ` (${params})` : ""}`;
}

function check(doc) {
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { fatal: "not a mapping" };
    if (typeof doc.apiVersion !== "string" || typeof doc.kind !== "string")
        return { fatal: "no apiVersion and kind" };
    const validate = schemaValidator(doc.apiVersion, doc.kind);
    if (!validate) return { fatal: `kubernetes-models knows no ${doc.apiVersion} ${doc.kind}` };
    const reads = new Map();
    const ok = validate(watched(doc, "", reads));
    const errors = ok ? [] : (validate.errors || []).map(describe);
    // The outermost unknown field only: nothing under it was read either.
    const unknown = [...reads].filter(([, read]) => !read).map(([where]) => where);
    for (const where of unknown)
        if (!unknown.some((outer) => where.startsWith(outer + "/"))) errors.push(`${where}: unknown field (not in the schema)`);
    return { errors };
}

let status = 0;
const files = process.argv.slice(2);
if (files.length === 0) {
    console.error("usage: validate.cjs FILE...");
    process.exit(2);
}
for (const file of files) {
    let docs;
    try {
        docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    } catch (e) {
        console.error(`${file}: ${e.message}`);
        status = 2;
        continue;
    }
    docs.forEach((d, index) => {
        const out = { file, index, apiVersion: null, kind: null, name: null, errors: [] };
        if (d.errors.length > 0) {
            out.errors = d.errors.map((e) => `YAML: ${e.message}`);
            status = 2;
        } else {
            const doc = d.toJS();
            if (doc === null) return; // an empty document (a trailing ---)
            out.apiVersion = doc.apiVersion ?? null;
            out.kind = doc.kind ?? null;
            out.name = doc.metadata?.name ?? null;
            const r = check(doc);
            if (r.fatal) {
                out.errors = [r.fatal];
                status = 2;
            } else {
                out.errors = r.errors;
                if (r.errors.length > 0 && status === 0) status = 1;
            }
        }
        console.log(JSON.stringify(out));
    });
}
process.exit(status);
