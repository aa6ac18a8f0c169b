//! Crash safety: every write that was acknowledged survives a SIGKILL in
//! the middle of a stream of writes, and is readable and searchable after
//! the restart.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Opts, Server, http_client};
use serde_json::{Value, json};

/// A token no other memory contains (letters only, so no tokenizer splits
/// it): `n` in base 26 behind a fixed prefix.
fn token(n: usize) -> String {
    let mut s = String::from("qzv");
    let mut n = n;
    for _ in 0..4 {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    s
}

/// Distinct subjects, so that a vector search for one finds exactly its
/// memory: proof that the vector index (not only the rows) survived.
const TOPICS: [&str; 40] = [
    "The volcano in Iceland erupted and grounded flights across Europe.",
    "My grandmother's apple pie recipe uses cinnamon and brown sugar.",
    "The quarterly tax return must be filed with the revenue office.",
    "Our cat knocked the houseplant off the windowsill again.",
    "The marathon route passes along the river and over two bridges.",
    "A new exoplanet was discovered orbiting a red dwarf star.",
    "The violin teacher recommended practising scales every morning.",
    "The basement flooded after the heavy thunderstorm last night.",
    "Bitcoin's price fell sharply after the exchange was hacked.",
    "The kindergarten is closed on Monday for a teacher training day.",
    "We planted tomatoes, basil and peppers in the vegetable garden.",
    "The surgeon explained the risks of the knee replacement operation.",
    "The chess club meets on Thursday evenings in the library.",
    "Our flight to Tokyo has a layover in Dubai.",
    "The landlord will repaint the apartment's kitchen next month.",
    "Penguins huddle together to survive the Antarctic winter.",
    "The database migration failed because of a missing index.",
    "She knitted a red woollen scarf for her nephew's birthday.",
    "The football match ended in a draw after extra time.",
    "The museum's new exhibition features impressionist paintings.",
    "Wildfires forced thousands of residents to evacuate the valley.",
    "The bakery's sourdough starter is fed with rye flour daily.",
    "The electric car's battery range drops in cold weather.",
    "He is allergic to peanuts and carries an epinephrine pen.",
    "The orchestra rehearsed Beethoven's ninth symphony all weekend.",
    "Coral reefs are bleaching because the ocean is warming.",
    "The wedding reception will be held in a vineyard in Tuscany.",
    "The printer ran out of cyan ink during the brochure print run.",
    "Our startup closed its seed funding round with three investors.",
    "The hiking trail to the glacier is closed due to avalanche risk.",
    "The dentist found a cavity in my upper left molar.",
    "Honeybees communicate the location of flowers by dancing.",
    "The city council approved a new bicycle lane on Elm Avenue.",
    "The submarine cable outage slowed internet traffic to the island.",
    "My passport expires in March, so I need to renew it soon.",
    "The sushi chef trained for ten years before making nigiri.",
    "A solar eclipse will be visible from Spain next August.",
    "The toddler learned to ride a balance bike in the park.",
    "The lawyer advised us to read the lease contract carefully.",
    "The ferry to the islands is cancelled because of strong winds.",
];

/// Varied everyday sentences for the bulk of the stream: thousands of
/// near-identical texts would make an adversarial cluster for any
/// approximate index, which is a question of recall, not of durability.
fn filler(n: usize) -> String {
    const WHO: [&str; 7] = [
        "Nora",
        "The plumber",
        "My neighbour",
        "Our manager",
        "Uncle Tom",
        "The courier",
        "A student",
    ];
    const DID: [&str; 6] = [
        "fixed",
        "painted",
        "borrowed",
        "delivered",
        "photographed",
        "sold",
    ];
    const WHAT: [&str; 5] = [
        "the garden fence",
        "an old bicycle",
        "three boxes of books",
        "the kitchen sink",
        "a wooden canoe",
    ];
    const WHEN: [&str; 4] = [
        "on Monday",
        "before lunch",
        "last winter",
        "after the storm",
    ];
    format!(
        "{} {} {} {}.",
        WHO[n % 7],
        DID[(n / 7) % 6],
        WHAT[(n / 42) % 5],
        WHEN[(n / 210) % 4]
    )
}

struct Acked {
    id: String,
    token: String,
    topic: Option<&'static str>,
}

/// Writes until the server stops answering; returns the acknowledged
/// writes and how many requests failed without an answer.
fn write_stream(
    base: String,
    key: String,
    stop: Arc<AtomicBool>,
    first: usize,
    topics: &'static [&'static str],
) -> (Vec<Acked>, usize) {
    let http = http_client();
    let mut acked = Vec::new();
    let mut n = first;
    let mut failures = 0usize;
    let mut topics_used = 0usize;
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
        let batch = n % 10 == 9;
        let mut topic = None;
        let (url, body, tokens): (String, Value, Vec<String>) = if batch {
            let tokens: Vec<String> = (0..5).map(|i| token(n * 10 + i)).collect();
            let items: Vec<Value> = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| json!({ "content": format!("{t}: {}", filler(n * 5 + i)), "user_id": "w" }))
                .collect();
            (
                format!("{base}/v1/memories/batch"),
                json!({ "items": items }),
                tokens,
            )
        } else {
            let t = token(n * 10);
            topic = (n % 4 == 1)
                .then(|| topics.get(topics_used))
                .flatten()
                .copied();
            let content = match topic {
                Some(text) => {
                    topics_used += 1;
                    format!("{t}: {text}")
                }
                None => format!("{t}: {}", filler(n)),
            };
            (
                format!("{base}/v1/memories"),
                json!({ "content": content, "user_id": "w" }),
                vec![t],
            )
        };
        n += 1;
        let resp = http.post(url).bearer_auth(&key).json(&body).send();
        let resp = match resp {
            Ok(r) => r,
            Err(_) => {
                // The server is gone (or going); this write was never
                // acknowledged. Stop once it clearly is not coming back.
                failures += 1;
                if failures >= 3 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let status = resp.status().as_u16();
        let Ok(v) = resp.json::<Value>() else {
            failures += 1;
            continue;
        };
        assert_eq!(status, 201, "write refused while streaming: {v}");
        if batch {
            let ids = v["ids"].as_array().expect("batch ids");
            assert_eq!(ids.len(), tokens.len());
            for (id, t) in ids.iter().zip(tokens) {
                acked.push(Acked {
                    id: id.as_str().unwrap().to_string(),
                    token: t,
                    topic: None,
                });
            }
        } else {
            acked.push(Acked {
                id: v["id"].as_str().unwrap().to_string(),
                token: tokens.into_iter().next().unwrap(),
                topic,
            });
        }
    }
    (acked, failures)
}

/// Streams writes for about 2 s, SIGKILLs the server mid-stream, restarts
/// it, and checks every acknowledged write (of this and earlier rounds).
fn crash_round(
    s: &mut Server,
    key: &str,
    acked: &mut Vec<Acked>,
    first: usize,
    topics: &'static [&'static str],
) {
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, key, stop) = (s.base.clone(), key.to_string(), stop.clone());
        std::thread::spawn(move || write_stream(base, key, stop, first, topics))
    };
    std::thread::sleep(Duration::from_secs(2));
    s.kill();
    stop.store(true, Ordering::Relaxed);
    let (new, failures) = writer.join().expect("writer thread");
    assert!(
        new.len() >= 20,
        "only {} writes were acknowledged in 2 s; the stream did not run",
        new.len()
    );
    assert!(failures > 0, "the writer never saw the crash");
    acked.extend(new);

    s.restart();
    let ready = s.get_open("/ready");
    assert_eq!(ready.expect(200)["status"], json!("ready"));
    for a in acked.iter() {
        let m = s.get(&format!("/v1/memories/{}", a.id), key);
        let content = m.expect(200)["content"].as_str().unwrap();
        assert!(content.contains(&a.token), "{} holds {content}", a.id);
        let hits = s.search_ids(key, &json!({ "query": a.token, "mode": "keyword" }));
        assert_eq!(
            hits.first(),
            Some(&a.id),
            "acknowledged write {} ({}) is not found by keyword search",
            a.id,
            a.token
        );
    }
    // The vector index came back with them: each distinct subject written
    // in a stream is found first by an unfiltered (index) vector search.
    let topical: Vec<&Acked> = acked.iter().filter(|a| a.topic.is_some()).collect();
    assert!(topical.len() >= 5, "only {} topical writes", topical.len());
    for a in topical {
        let hits = s.search_ids(key, &json!({ "query": a.topic.unwrap(), "mode": "vector" }));
        assert_eq!(
            hits.first(),
            Some(&a.id),
            "vector search does not find acknowledged write {} ({:?})",
            a.id,
            a.topic
        );
    }
    assert!(s.list_all(key, "").len() > acked.len());
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let mut s = Server::start(
        Opts::default()
            .env("ENGRAM_RATE_LIMIT_PER_SECOND", "100000")
            .env("ENGRAM_RATE_LIMIT_BURST", "100000"),
    );
    let tenant = s.create_tenant("durable");
    let key = s.create_key(&tenant, &["read", "write"]);
    let early = s.add_text(&key, "w", "An early memory written before the stream.");
    let mut acked = Vec::new();

    // Round 1: the vector index was never saved, so the restart rebuilds
    // it from the table.
    crash_round(&mut s, &key, &mut acked, 0, &TOPICS[..20]);

    // Round 2: a graceful restart saves the index; the crash then leaves a
    // saved index plus a log of later changes to replay.
    s.terminate();
    s.restart();
    crash_round(&mut s, &key, &mut acked, 20_000, &TOPICS[20..]);

    s.get(&format!("/v1/memories/{early}"), &key).expect(200);
    // And the server takes writes again.
    let after = s.add_text(&key, "w", "Written after the restarts.");
    s.get(&format!("/v1/memories/{after}"), &key).expect(200);
}
