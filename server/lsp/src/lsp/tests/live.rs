//! Live mode on the local Lambda: a save brings the new result inline, rapid saves coalesce, a
//! file that does not parse is a diagnostic and is not deployed, and nothing goes to AWS unless
//! live mode was turned on for that profile.

use super::*;

const LIVE_PROJECT: &str = r#"
//- app.py
from helpers import greeting


def handler(event, context):
    return {"v": 1, "says": greeting(event.get("name", "world"))}
//- helpers.py
def greeting(name):
    return "hello " + name
"#;

fn app(v: u32) -> String {
    format!(
        "from helpers import greeting\n\n\ndef handler(event, context):\n    return {{\"v\": {v}, \"says\": greeting(event.get(\"name\", \"world\"))}}\n"
    )
}

/// Writes the file as an editor saves it, then sends `didSave`.
async fn save(client: &Client, fixture: &Fixture, name: &str, text: &str) {
    std::fs::write(fixture.path(name), text).unwrap();
    client
        .notify(
            "textDocument/didSave",
            json!({"textDocument": {"uri": fixture.uri(name)}}),
        )
        .await;
}

/// Waits until the inline result on `uri` contains `needle`; returns its label.
async fn wait_hint(client: &Client, uri: &str, needle: &str) -> String {
    let found = tokio::time::timeout(TIMEOUT, async {
        loop {
            let hints = client.hints(uri).await;
            if let Some(label) = hints
                .iter()
                .filter_map(|h| h["label"].as_str())
                .find(|l| l.contains(needle))
            {
                return label.to_string();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no inline result with {needle} within {TIMEOUT:?}"))
}

/// How many live rounds finished, from the log.
fn rounds(client: &Client) -> usize {
    client
        .seen("window/logMessage")
        .iter()
        .filter(|m| {
            let text = m["params"]["message"].as_str().unwrap_or("");
            text.starts_with("live: app-handler ") && text.contains(" invoked in ")
        })
        .count()
}

async fn start_live(fixture: &Fixture) -> (Client, String) {
    let client = Client::start(fixture, no_aws(), Value::Null).await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "local")
        .await;
    let uri = client.open(fixture, "app.py").await;
    let on = client
        .command(
            "lambda.live",
            json!({"uri": uri, "function": "handler", "payload": {"name": "live"}}),
        )
        .await
        .expect("live mode turns on");
    assert_eq!(
        on,
        json!({"live": true, "function": "handler", "profile": "local"})
    );
    wait_hint(&client, &uri, r#""says":"hello live","v":1"#).await;
    (client, uri)
}

#[tokio::test]
async fn a_save_redeploys_and_the_new_result_follows() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(LIVE_PROJECT);
    let (client, uri) = start_live(&fixture).await;
    assert!(client
        .lenses(&uri)
        .await
        .contains(&"3: Stop Live".to_string()));

    save(&client, &fixture, "app.py", &app(2)).await;
    wait_hint(&client, &uri, r#""v":2"#).await;
    // A module of its package (not open in the editor) is part of it too.
    save(
        &client,
        &fixture,
        "helpers.py",
        "def greeting(name):\n    return 'hi ' + name\n",
    )
    .await;
    wait_hint(&client, &uri, r#""says":"hi live","v":2"#).await;
    assert!(rounds(&client) >= 3);
    let actions = client
        .actions(&uri, &json!({"line": 4, "character": 4}))
        .await;
    assert_eq!(actions.last().unwrap()["title"], "Turn live mode off");

    // Off: a save deploys nothing.
    let off = client
        .command(
            "lambda.live",
            json!({"uri": uri, "function": "handler", "on": false}),
        )
        .await
        .unwrap();
    assert_eq!(off["live"], false);
    assert!(client.lenses(&uri).await.contains(&"3: Live".to_string()));
    let before = rounds(&client);
    save(&client, &fixture, "app.py", &app(3)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rounds(&client), before);
    wait_hint(&client, &uri, r#""v":2"#).await;
    client.finish().await;
}

#[tokio::test]
async fn rapid_saves_coalesce_and_the_last_one_wins() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(LIVE_PROJECT);
    let (client, uri) = start_live(&fixture).await;
    let before = rounds(&client);
    for v in 10..15 {
        save(&client, &fixture, "app.py", &app(v)).await;
    }
    wait_hint(&client, &uri, r#""v":14"#).await;
    // Give a stray round the time to finish and show an older result, were there one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_hint(&client, &uri, r#""v":14"#).await;
    let ran = rounds(&client) - before;
    assert!((1..=2).contains(&ran), "{ran} rounds for 5 saves");
    client.finish().await;
}

#[tokio::test]
async fn a_file_that_does_not_parse_is_a_diagnostic_and_is_not_deployed() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(LIVE_PROJECT);
    let (client, uri) = start_live(&fixture).await;
    let before = rounds(&client);
    save(
        &client,
        &fixture,
        "app.py",
        "def handler(event, context):\n    return {\"v\": 2\n",
    )
    .await;
    let published = client
        .wait_for("textDocument/publishDiagnostics", |p| {
            p["uri"] == uri
                && p["diagnostics"].as_array().is_some_and(|d| {
                    d.iter()
                        .any(|d| d["message"].as_str().unwrap().starts_with("SyntaxError"))
                })
        })
        .await;
    assert_eq!(published["diagnostics"].as_array().unwrap().len(), 1);
    // The old code keeps serving and its result stays.
    assert_eq!(rounds(&client), before);
    wait_hint(&client, &uri, r#""v":1"#).await;
    let invoked = client
        .command("lambda.invoke", json!({"uri": uri, "function": "handler"}))
        .await
        .unwrap();
    assert_eq!(invoked["payload"]["v"], 1, "{invoked}");

    // Fixed: deployed, and the diagnostic goes.
    save(&client, &fixture, "app.py", &app(3)).await;
    wait_hint(&client, &uri, r#""v":3"#).await;
    assert_eq!(client.diagnostics(&uri), Some(Vec::new()));
    client.finish().await;
}

#[tokio::test]
async fn live_mode_never_deploys_to_aws_unless_turned_on_for_that_profile() {
    let fake = FakeAws::start();
    let (_files, env) = fake_profiles(&fake);
    let fixture = Fixture::new(LIVE_PROJECT);
    let client = Client::start_with_caps(
        &fixture,
        env,
        json!({"profile": "fake"}),
        json!({"liveByDefault": true}),
        asking_capabilities(false),
    )
    .await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "fake")
        .await;
    let uri = client.open(&fixture, "app.py").await;
    let args = json!({"uri": uri, "function": "handler"});

    // Not asked for AWS: refused, with how to do it.
    let err = client
        .command("lambda.live", args.clone())
        .await
        .unwrap_err();
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("only when turned on for it explicitly"),
        "{message}"
    );
    // The code action names the profile and asks.
    let actions = client
        .actions(&uri, &json!({"line": 4, "character": 4}))
        .await;
    let live = actions.last().unwrap();
    assert_eq!(
        live["title"],
        "Turn live mode on for AWS profile fake (asks first)"
    );
    assert_eq!(live["command"]["arguments"][0]["aws"], true);

    // Live by default: a save makes the handler live, but not on AWS.
    save(&client, &fixture, "app.py", &app(2)).await;
    client
        .wait_for("window/logMessage", |p| {
            p["message"]
                .as_str()
                .unwrap()
                .contains("was not deployed to AWS profile fake")
        })
        .await;

    // Asked, and cancelled: nothing.
    *client.answer.lock().unwrap() = json!({"title": "Cancel"});
    let mut aws = args.clone();
    aws["aws"] = json!(true);
    let err = client
        .command("lambda.live", aws.clone())
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32800, "{err}");
    assert_eq!(client.seen("window/showMessageRequest").len(), 1);
    assert_eq!(deploy_requests(&fake), Vec::<String>::new());

    // Asked, and agreed: this function deploys live to this profile (AWS refuses it here).
    *client.answer.lock().unwrap() = json!({"title": "Deploy"});
    client
        .command("lambda.live", aws)
        .await
        .expect("live on AWS");
    client
        .wait_for("window/logMessage", |p| {
            p["message"]
                .as_str()
                .unwrap()
                .contains("profile fake is not allowed to call lambda:GetFunction")
        })
        .await;
    assert!(!deploy_requests(&fake).is_empty());
    client.finish().await;
}

#[tokio::test]
async fn live_by_default_makes_the_handlers_of_a_saved_file_live() {
    let _one_at_a_time = LOCAL_LAMBDA.lock().await;
    let fixture = Fixture::new(LIVE_PROJECT);
    let client = Client::start(&fixture, no_aws(), Value::Null).await;
    client
        .wait_for("lambdaLs/profileChanged", |p| p["profile"] == "local")
        .await;
    let uri = client.open(&fixture, "app.py").await;
    // Off (the default): a save deploys nothing.
    save(&client, &fixture, "app.py", &app(1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rounds(&client), 0);
    assert!(client.lenses(&uri).await.contains(&"3: Live".to_string()));

    client
        .notify(
            "workspace/didChangeConfiguration",
            json!({"settings": {"lambdaLs": {"liveByDefault": true}}}),
        )
        .await;
    save(&client, &fixture, "app.py", &app(2)).await;
    wait_hint(&client, &uri, r#""says":"hello world","v":2"#).await;
    assert!(client
        .lenses(&uri)
        .await
        .contains(&"3: Stop Live".to_string()));
    client.finish().await;
}
