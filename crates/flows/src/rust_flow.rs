//! Rust flows: a parameters type deriving [`schemars::JsonSchema`] described in the
//! `ParameterSchema` shape Prefect emits.

use schemars::JsonSchema;
use serde_json::{Map, Value as Json};

use super::schema::{pydantic_sort, title_from_name};
use super::{Flow, ParameterSchema};

impl Flow {
    /// A flow implemented in Rust, named `name`, whose parameters are the fields of `P`.
    ///
    /// `P`'s doc comment becomes the description; field doc comments become parameter
    /// descriptions; `#[serde(default)]` values become defaults. There is no default version
    /// (Prefect's is a hash of a Python file).
    pub fn from_parameters<P: JsonSchema>(name: impl Into<String>) -> Flow {
        let root = schemars::SchemaGenerator::default()
            .into_root_schema_for::<P>()
            .to_value();
        let description = root
            .get("description")
            .and_then(Json::as_str)
            .map(str::to_string);
        Flow {
            name: name.into(),
            description,
            version: None,
            parameter_schema: parameter_schema_for::<P>(),
            is_async: false,
            entrypoint: None,
            source_file: None,
        }
    }

    /// Sets where workers find the flow's code: `path/to/file.py:function` or
    /// `package.module.function` (needed by `RunnerDeployment::from_flow`).
    pub fn with_entrypoint(mut self, entrypoint: impl Into<String>) -> Flow {
        self.entrypoint = Some(entrypoint.into());
        self
    }

    /// Sets the flow's version (what `@flow(version=…)` would).
    pub fn with_version(mut self, version: impl Into<String>) -> Flow {
        self.version = Some(version.into());
        self
    }

    /// Sets the flow's description (instead of the parameters type's doc comment).
    pub fn with_description(mut self, description: impl Into<String>) -> Flow {
        self.description = Some(description.into());
        self
    }
}

/// The `ParameterSchema` Prefect would emit for a function whose parameters are `P`'s fields:
/// `title`/`position` per parameter, nested types under `definitions`, `Option` as
/// `anyOf [T, null]`, keys ordered the way pydantic orders them.
pub fn parameter_schema_for<P: JsonSchema>() -> ParameterSchema {
    let root = schemars::SchemaGenerator::default()
        .into_root_schema_for::<P>()
        .to_value();
    from_schemars_root(&root)
}

fn from_schemars_root(root: &Json) -> ParameterSchema {
    let mut props = Map::new();
    if let Some(Json::Object(p)) = root.get("properties") {
        for (i, (name, schema)) in p.iter().enumerate() {
            let mut s = match convert(schema) {
                Json::Object(m) => m,
                other => {
                    let mut m = Map::new();
                    if other == Json::Bool(false) {
                        m.insert("not".into(), Json::Object(Map::new()));
                    }
                    m
                }
            };
            s.insert("title".into(), Json::String(name.clone()));
            s.insert("position".into(), Json::from(i));
            props.insert(name.clone(), pydantic_sort(&Json::Object(s), Some(name)));
        }
    }
    let required: Vec<String> = match root.get("required") {
        Some(Json::Array(r)) => {
            let names: Vec<&str> = r.iter().filter_map(Json::as_str).collect();
            props
                .keys()
                .filter(|k| names.contains(&k.as_str()))
                .cloned()
                .collect()
        }
        _ => Vec::new(),
    };
    // An optional `Option<T>` field is `param: Optional[T] = None` to Prefect.
    for (name, schema) in props.iter_mut() {
        if required.contains(name) {
            continue;
        }
        let Json::Object(m) = schema else { continue };
        let nullable = matches!(m.get("anyOf"), Some(Json::Array(a))
            if a.iter().any(|x| x.get("type") == Some(&Json::String("null".into()))));
        if nullable && !m.contains_key("default") {
            m.insert("default".into(), Json::Null);
            let sorted = pydantic_sort(&Json::Object(m.clone()), Some(name));
            *schema = sorted;
        }
    }
    let definitions = match root.get("$defs") {
        Some(Json::Object(defs)) if !defs.is_empty() => {
            let mut names: Vec<&String> = defs.keys().collect();
            names.sort();
            let mut out = Map::new();
            for n in names {
                out.insert(n.clone(), pydantic_sort(&definition(n, &defs[n]), None));
            }
            Some(out)
        }
        _ => None,
    };
    ParameterSchema {
        properties: props,
        required: (!required.is_empty()).then_some(required),
        definitions,
        ..ParameterSchema::default()
    }
}

/// A nested struct or enum as pydantic would define it: titled, fields titled.
fn definition(name: &str, schema: &Json) -> Json {
    let Json::Object(mut m) = convert(schema) else {
        return Json::Object(Map::new());
    };
    m.entry("title")
        .or_insert_with(|| Json::String(name.to_string()));
    if let Some(Json::Object(props)) = m.get_mut("properties") {
        for (field, s) in props.iter_mut() {
            if let Json::Object(fs) = s {
                let is_ref = fs.contains_key("$ref")
                    || matches!(fs.get("anyOf"), Some(Json::Array(a))
                        if a.len() == 2 && a.iter().any(|x| x.get("$ref").is_some())
                            && a.iter().any(|x| x.get("type") == Some(&Json::String("null".into()))));
                if !is_ref {
                    fs.entry("title")
                        .or_insert_with(|| Json::String(title_from_name(field)));
                }
            }
        }
    }
    Json::Object(m)
}

/// schemars (JSON Schema 2020-12) → pydantic's flavour.
fn convert(schema: &Json) -> Json {
    match schema {
        Json::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                match k.as_str() {
                    "$ref" => {
                        let r = v
                            .as_str()
                            .unwrap_or_default()
                            .replace("#/$defs/", "#/definitions/");
                        out.insert(k.clone(), Json::String(r));
                    }
                    "$schema" => {}
                    "format"
                        if matches!(
                            v.as_str(),
                            Some(
                                "int8"
                                    | "int16"
                                    | "int32"
                                    | "int64"
                                    | "int128"
                                    | "uint"
                                    | "uint8"
                                    | "uint16"
                                    | "uint32"
                                    | "uint64"
                                    | "uint128"
                                    | "float"
                                    | "double"
                            )
                        ) => {}
                    "properties" => {
                        let props = v
                            .as_object()
                            .map(|p| p.iter().map(|(pk, pv)| (pk.clone(), convert(pv))).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Json::Object(props));
                    }
                    _ => {
                        out.insert(k.clone(), convert(v));
                    }
                }
            }
            // `"type": ["integer", "null"]` → `anyOf`.
            if let Some(Json::Array(types)) = out.get("type").cloned() {
                out.remove("type");
                let mut any_of = Vec::new();
                for t in types {
                    let mut one = Map::new();
                    // Keywords that belong to the non-null type move with it.
                    if t != Json::String("null".into()) {
                        for key in [
                            "items",
                            "minimum",
                            "maximum",
                            "exclusiveMinimum",
                            "exclusiveMaximum",
                            "minLength",
                            "maxLength",
                            "pattern",
                            "format",
                            "additionalProperties",
                            "minItems",
                            "maxItems",
                            "uniqueItems",
                            "prefixItems",
                            "enum",
                        ] {
                            if let Some(v) = out.remove(key) {
                                one.insert(key.into(), v);
                            }
                        }
                    }
                    one.insert("type".into(), t);
                    any_of.push(Json::Object(one));
                }
                out.insert("anyOf".into(), Json::Array(any_of));
            }
            Json::Object(out)
        }
        Json::Array(items) => Json::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    fn world() -> String {
        "world".into()
    }

    /// Say hello to someone.
    #[derive(JsonSchema, Serialize, Deserialize)]
    #[allow(dead_code)]
    struct Hello {
        #[serde(default = "world")]
        name: String,
        #[serde(default)]
        excited: bool,
    }

    /// The corpus's answer for an entrypoint.
    fn corpus_schema(id: &str) -> Json {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/conformance/flows.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let case: Json = text
            .lines()
            .map(|l| serde_json::from_str::<Json>(l).unwrap())
            .find(|c| c["id"] == id)
            .unwrap();
        case["expected"]["parameter_openapi_schema"].clone()
    }

    #[test]
    fn same_shape_as_prefect_for_hello() {
        // Corpus case pub-hello: `hello(name: str = "world", excited: bool = False)`.
        let flow = Flow::from_parameters::<Hello>("hello");
        assert_eq!(flow.description.as_deref(), Some("Say hello to someone."));
        let ours = flow.parameter_schema.to_json();
        let prefect = corpus_schema("pub-hello");
        assert_eq!(ours, prefect);
        // Same key order too (parameters, and keys inside each parameter).
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&prefect).unwrap()
        );
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    enum Priority {
        #[serde(rename = "low")]
        Low,
        #[serde(rename = "high")]
        High,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Address {
        street: String,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Onboard {
        customer: Address,
        note: Option<String>,
        priority: Priority,
        tags: Vec<String>,
    }

    #[test]
    fn nested_types_become_definitions() {
        let schema = parameter_schema_for::<Onboard>();
        let json = serde_json::to_value(&schema).unwrap();
        assert_eq!(
            json["properties"]["customer"],
            serde_json::json!({"$ref": "#/definitions/Address", "position": 0, "title": "customer"})
        );
        assert_eq!(
            json["properties"]["note"],
            serde_json::json!({"anyOf": [{"type": "string"}, {"type": "null"}], "default": null, "position": 1, "title": "note"})
        );
        assert_eq!(
            json["properties"]["tags"],
            serde_json::json!({"items": {"type": "string"}, "position": 3, "title": "tags", "type": "array"})
        );
        assert_eq!(
            json["definitions"]["Address"],
            serde_json::json!({"properties": {"street": {"title": "Street", "type": "string"}}, "required": ["street"], "title": "Address", "type": "object"})
        );
        assert_eq!(
            json["definitions"]["Priority"],
            serde_json::json!({"enum": ["low", "high"], "title": "Priority", "type": "string"})
        );
        assert_eq!(
            schema.required,
            Some(vec!["customer".into(), "priority".into(), "tags".into()])
        );
    }
}
