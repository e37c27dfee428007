//! OSCQuery (Vidvox's OSCQueryProposal): an HTTP JSON namespace describing every OSC address
//! Sentio sends — built from the same compiled OSC map the sender uses, so what TouchDesigner,
//! Chataigne or a VRChat tool discovers is exactly what arrives.
//!
//! `GET /` is the whole tree, `GET /sentio/voice` one node, `?VALUE` (or any attribute) one
//! attribute, `?HOST_INFO` the host description. Every address is output-only, so `ACCESS` is 1
//! (the value can be read, not set) and nothing can be changed through this server.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::http::{Handler, Reply, Request, Response};
use super::osc::{normalize_prefix, OscSettings};
use super::osc_map::AddressInfo;
use crate::state::SharedState;

pub const DEFAULT_PORT: u16 = 9192;

/// The attributes a node may carry (OSCQueryProposal "Attributes").
const ATTRIBUTES: [&str; 7] = [
    "FULL_PATH",
    "CONTENTS",
    "TYPE",
    "RANGE",
    "ACCESS",
    "DESCRIPTION",
    "VALUE",
];

fn range_json(ranges: &[Option<(f32, f32)>]) -> Value {
    Value::Array(
        ranges
            .iter()
            .map(|r| match r {
                Some((lo, hi)) => json!({ "MIN": lo, "MAX": hi }),
                None => json!({}),
            })
            .collect(),
    )
}

fn osc_value(v: &rosc::OscType) -> Value {
    match v {
        rosc::OscType::Float(f) => json!(f),
        rosc::OscType::Int(i) => json!(i),
        rosc::OscType::String(s) => json!(s),
        _ => Value::Null,
    }
}

/// The namespace tree for `infos`; `values` gives the current arguments of addresses sent now.
pub fn namespace(infos: &[AddressInfo], values: &dyn Fn(&str) -> Option<Value>) -> Value {
    let mut root = json!({
        "FULL_PATH": "/",
        "ACCESS": 0,
        "DESCRIPTION": "Sentio: speech emotion recognition outputs (sent over OSC, read-only)",
        "CONTENTS": {},
    });
    for info in infos {
        let mut node = &mut root;
        let mut path = String::new();
        for part in info.address.trim_start_matches('/').split('/') {
            path.push('/');
            path.push_str(part);
            let contents = node
                .as_object_mut()
                .expect("nodes are objects")
                .entry("CONTENTS")
                .or_insert_with(|| Value::Object(Map::new()));
            node = contents
                .as_object_mut()
                .expect("CONTENTS is an object")
                .entry(part.to_string())
                .or_insert_with(|| json!({ "FULL_PATH": path.clone(), "ACCESS": 0 }));
        }
        let obj = node.as_object_mut().expect("nodes are objects");
        obj.insert("TYPE".into(), json!(info.types));
        obj.insert("ACCESS".into(), json!(1));
        obj.insert("RANGE".into(), range_json(&info.ranges));
        obj.insert("DESCRIPTION".into(), json!(info.description));
        if let Some(v) = values(&info.address) {
            obj.insert("VALUE".into(), v);
        }
    }
    root
}

/// The node at `path` in `tree` (`/` is the root).
pub fn find<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = tree;
    for part in path.trim_matches('/').split('/').filter(|p| !p.is_empty()) {
        node = node.get("CONTENTS")?.get(part)?;
    }
    Some(node)
}

/// Every leaf address in `tree` (nodes with a `TYPE`).
pub fn leaves(tree: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        if v.get("TYPE").is_some() {
            if let Some(p) = v.get("FULL_PATH").and_then(Value::as_str) {
                out.push(p.to_string());
            }
        }
        if let Some(c) = v.get("CONTENTS").and_then(Value::as_object) {
            for child in c.values() {
                walk(child, out);
            }
        }
    }
    walk(tree, &mut out);
    out
}

pub struct OscQuery {
    shared: Arc<SharedState>,
    settings: Box<dyn Fn() -> OscSettings + Send + Sync>,
}

impl OscQuery {
    pub fn new(
        shared: Arc<SharedState>,
        settings: impl Fn() -> OscSettings + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared,
            settings: Box::new(settings),
        }
    }

    fn host_info(&self, s: &OscSettings) -> Value {
        json!({
            "NAME": "Sentio",
            "OSC_IP": s.host,
            "OSC_PORT": s.port,
            "OSC_TRANSPORT": "UDP",
            "EXTENSIONS": {
                "ACCESS": true, "VALUE": true, "RANGE": true, "DESCRIPTION": true,
                "TAGS": false, "CLIPMODE": false, "UNIT": false, "CRITICAL": false,
                "LISTEN": false, "PATH_CHANGED": false,
            },
        })
    }

    /// The tree for the current settings, with the values the sender would send now.
    pub fn tree(&self) -> Result<Value, String> {
        self.tree_for(&(self.settings)())
    }

    fn tree_for(&self, s: &OscSettings) -> Result<Value, String> {
        let prefix = normalize_prefix(&s.prefix)?;
        let compiled = s.map.compile(&prefix)?;
        let msgs = compiled.messages(
            &self.shared.outputs(),
            &self.shared.status(),
            &[],
            None,
            &[],
        );
        let values = |addr: &str| {
            msgs.iter()
                .find(|m| m.addr == addr)
                .map(|m| Value::Array(m.args.iter().map(osc_value).collect()))
        };
        Ok(namespace(&compiled.describe(), &values))
    }
}

impl Handler for OscQuery {
    fn handle(&self, req: &Request) -> Reply {
        let s = (self.settings)();
        let attr = req.query.split('&').next().unwrap_or("");
        if attr == "HOST_INFO" {
            return Reply::Full(Response::json(&self.host_info(&s)));
        }
        let tree = match self.tree_for(&s) {
            Ok(t) => t,
            Err(e) => return Reply::Full(Response::error(500, &e)),
        };
        let Some(node) = find(&tree, &req.path) else {
            return Reply::Full(Response::error(404, "no such OSC address"));
        };
        if attr.is_empty() {
            return Reply::Full(Response::json(node));
        }
        if !ATTRIBUTES.contains(&attr) {
            return Reply::Full(Response::error(400, "unknown OSCQuery attribute"));
        }
        Reply::Full(match node.get(attr) {
            Some(v) => Response::json(&json!({ attr: v })),
            // The node exists but has no such attribute (e.g. VALUE before a model runs).
            None => Response::new(204, "application/json", ""),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::osc::OscEncoder;
    use crate::output::osc_map::{OscMap, Preset};
    use crate::state::Outputs;
    use crate::transcript::Transcript;
    use rosc::OscPacket;

    fn busy_state() -> Arc<SharedState> {
        let shared = Arc::new(SharedState::new());
        shared
            .model_active
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut probs = [0.02; 8];
        probs[2] = 0.86;
        shared.publish_emotion(&probs, 1);
        shared.set_speech_state("Whisper tiny.en on CPU");
        shared.publish_transcript(Transcript {
            seq: 0,
            start_s: 0.0,
            end_s: 1.0,
            text: "What a day!".into(),
            probs: Some([0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0]),
            compute_ms: 1,
            cut_ms: 0,
            published_ms: 0,
        });
        shared
    }

    /// Every address the encoder puts on the wire over a run in which every kind of message
    /// occurs (a model, words, a partial and a transcript, an onset and triggers).
    fn sent_addresses(map: &OscMap, shared: &SharedState) -> std::collections::BTreeSet<String> {
        let mut enc = OscEncoder::new(map.clone(), "/sentio").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut out: Outputs = shared.outputs();
        for i in 0..20 {
            let t = i as f64 * 0.1;
            if i == 10 {
                // Every class rises over the trigger threshold once.
                let e = out.emotion.as_mut().unwrap();
                e.probs = [0.9; 8];
            }
            let texts = if i == 0 {
                vec!["What a day!".to_string()]
            } else {
                vec![]
            };
            let partial = (i == 5).then_some("What a");
            for p in enc.encode(t, &out, &shared.status(), &texts, partial) {
                let msgs = match p {
                    OscPacket::Bundle(b) => b.content,
                    m => vec![m],
                };
                for m in msgs {
                    if let OscPacket::Message(m) = m {
                        seen.insert(m.addr);
                    }
                }
            }
        }
        seen
    }

    #[test]
    fn namespace_has_the_required_keys_and_exactly_the_sent_addresses() {
        let shared = busy_state();
        for preset in [
            Preset::Sentio,
            Preset::TouchDesigner,
            Preset::Resolume,
            Preset::Qlc,
        ] {
            let map = OscMap::preset(preset, 1);
            let settings = OscSettings {
                map: map.clone(),
                ..OscSettings::default()
            };
            let q = OscQuery::new(shared.clone(), move || settings.clone());
            let tree = q.tree().unwrap();
            assert_eq!(tree["FULL_PATH"], "/");
            assert!(tree["CONTENTS"].is_object());
            let leaves: std::collections::BTreeSet<String> = leaves(&tree).into_iter().collect();
            assert_eq!(leaves, sent_addresses(&map, &shared), "{preset:?}");
            for addr in &leaves {
                let node = find(&tree, addr).unwrap();
                for key in ["FULL_PATH", "TYPE", "ACCESS", "RANGE", "DESCRIPTION"] {
                    assert!(node.get(key).is_some(), "{addr} lacks {key}");
                }
                assert_eq!(node["FULL_PATH"], addr.as_str());
                assert_eq!(node["ACCESS"], 1, "{addr} is read-only");
                let types = node["TYPE"].as_str().unwrap();
                assert_eq!(
                    node["RANGE"].as_array().unwrap().len(),
                    types.len(),
                    "{addr}"
                );
                if let Some(v) = node.get("VALUE") {
                    assert_eq!(v.as_array().unwrap().len(), types.len(), "{addr}");
                }
            }
        }
    }

    #[test]
    fn values_follow_the_state_and_queries_answer_per_spec() {
        let shared = busy_state();
        let q = OscQuery::new(shared.clone(), OscSettings::default);
        let tree = q.tree().unwrap();
        let happy = find(&tree, "/sentio/emotion/happy").unwrap();
        assert_eq!(happy["TYPE"], "f");
        assert!((happy["VALUE"][0].as_f64().unwrap() - 0.86).abs() < 1e-6);
        assert_eq!(happy["RANGE"][0]["MIN"], 0.0);
        assert_eq!(find(&tree, "/sentio/dominant").unwrap()["TYPE"], "sf");
        assert_eq!(find(&tree, "/sentio/probs").unwrap()["TYPE"], "ffffffff");

        let peer = "127.0.0.1:1".parse().unwrap();
        let get = |path: &str, query: &str| -> Response {
            match q.handle(&Request {
                method: "GET".into(),
                path: path.into(),
                query: query.into(),
                peer,
            }) {
                Reply::Full(r) => r,
                Reply::Events(_) => panic!("no streams here"),
            }
        };
        let body = |r: &Response| serde_json::from_slice::<Value>(&r.body).unwrap();
        let info = get("/", "HOST_INFO");
        assert_eq!(body(&info)["OSC_TRANSPORT"], "UDP");
        assert_eq!(body(&info)["OSC_PORT"], 9000);
        let v = get("/sentio/emotion/happy", "VALUE");
        assert!((body(&v)["VALUE"][0].as_f64().unwrap() - 0.86).abs() < 1e-6);
        assert_eq!(body(&get("/sentio", ""))["FULL_PATH"], "/sentio");
        assert_eq!(get("/sentio/nothing", "").status, 404);
        assert_eq!(get("/sentio/voice", "BOGUS").status, 400);
        // The transcript address exists but carries no value between utterances.
        assert_eq!(get("/sentio/transcript", "VALUE").status, 204);
    }
}
