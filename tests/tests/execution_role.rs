//! The default execution role against moto behind the fault proxy: a deploy stopped between
//! `CreateRole` and `AttachRolePolicy` is completed by the next one, and two first deploys at
//! once end with one role that has its policy.

use std::time::Duration;

use lambda_deploy::aws::{Connection, Endpoint};
use lambda_deploy::deploy::{deploy, DeployAction, DeployRequest, Progress, DEFAULT_ROLE_NAME};
use lambda_deploy::profiles::ProfileEnv;
use lambda_ls_tests::faults::{Fault, FaultProxy};
use lambda_ls_tests::{packaged, Moto};

const BASIC_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

struct Rig {
    _moto: Moto,
    proxy: FaultProxy,
    conn: Connection,
    _dir: tempfile::TempDir,
}

/// moto behind the proxy, and a connection whose every service call goes through the proxy.
async fn rig() -> Rig {
    let moto = Moto::start();
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", moto.port)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        format!(
            "[profile moto]\nregion = us-east-1\nendpoint_url = {}\n",
            proxy.url
        ),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[moto]\naws_access_key_id = AKIDMOTOTESTING\naws_secret_access_key = moto-secret-key-do-not-print\n",
    )
    .unwrap();
    let files = ProfileEnv::from_pairs([
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("HOME", dir.path().to_str().unwrap()),
    ]);
    let conn = Connection::connect(&Endpoint::Aws {
        profile: "moto".into(),
        region: None,
        files,
    })
    .await
    .unwrap();
    Rig {
        _moto: moto,
        proxy,
        conn,
        _dir: dir,
    }
}

async fn attached_policies(conn: &Connection) -> Vec<String> {
    conn.iam
        .as_ref()
        .unwrap()
        .list_attached_role_policies()
        .role_name(DEFAULT_ROLE_NAME)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}

fn quiet(_: Progress) {}

#[tokio::test]
async fn a_deploy_cancelled_between_create_role_and_attach_is_completed_by_the_next() {
    let r = rig().await;
    let (_p, pkg, spec) = packaged("role-cut", "def handler(e, c):\n    return 1\n", &[]);
    // AttachRolePolicy never answers; the user cancels (the future is dropped) meanwhile.
    r.proxy.inject_action(
        "AttachRolePolicy",
        1,
        Fault::Stall(Duration::from_secs(600)),
    );
    let first = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(5), first)
            .await
            .is_err(),
        "the first deploy hangs in AttachRolePolicy until cancelled"
    );
    assert_eq!(r.proxy.count_action("CreateRole"), 1);
    assert!(
        attached_policies(&r.conn).await.is_empty(),
        "the cut left the role without its policy"
    );

    // A failed AttachRolePolicy is another way to stop between the two calls.
    r.proxy.inject_action(
        "AttachRolePolicy",
        1,
        Fault::Error {
            status: 400,
            kind: "InjectedFault",
            message: "injected failure",
        },
    );
    let failed = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(failed.to_string().contains("AttachRolePolicy"), "{failed}");
    assert!(attached_policies(&r.conn).await.is_empty());

    let next = deploy(
        &r.conn,
        DeployRequest {
            spec: &spec,
            package: &pkg,
        },
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(next.action, DeployAction::Created);
    assert_eq!(attached_policies(&r.conn).await, vec![BASIC_POLICY]);
    assert_eq!(
        r.proxy.count_action("CreateRole"),
        1,
        "the role made by the cut deploy is reused"
    );
}

#[tokio::test]
async fn two_first_deploys_at_once_share_one_role_with_its_policy() {
    let r = rig().await;
    let (_a, pkg_a, spec_a) = packaged("first-a", "def handler(e, c):\n    return 'a'\n", &[]);
    let (_b, pkg_b, spec_b) = packaged("first-b", "def handler(e, c):\n    return 'b'\n", &[]);
    // Both look before either creates, as two deploys started together on real AWS do.
    r.proxy.inject_action(
        "GetRole",
        2,
        Fault::Error {
            status: 404,
            kind: "NoSuchEntity",
            message: "The role with name lambda-ls-execution cannot be found.",
        },
    );
    let (a, b) = tokio::join!(
        deploy(
            &r.conn,
            DeployRequest {
                spec: &spec_a,
                package: &pkg_a,
            },
            &quiet,
        ),
        deploy(
            &r.conn,
            DeployRequest {
                spec: &spec_b,
                package: &pkg_b,
            },
            &quiet,
        )
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        (a.action, b.action),
        (DeployAction::Created, DeployAction::Created)
    );
    assert_eq!(
        r.proxy.count_action("CreateRole"),
        2,
        "both tried to create the role; one found it already there"
    );
    assert_eq!(attached_policies(&r.conn).await, vec![BASIC_POLICY]);
    for name in [&spec_a.name, &spec_b.name] {
        let conf = r
            .conn
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        let role = conf.role().unwrap_or_default();
        assert!(
            role.ends_with(&format!(":role/{DEFAULT_ROLE_NAME}")),
            "{name}: {role}"
        );
    }
}
