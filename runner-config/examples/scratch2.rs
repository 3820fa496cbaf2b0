//! scratch
use runner_config::*;
fn main() {
    let mut doc = ConfigDocument::parse("concurrent = 1\ncheck_interval = 0\nconnection_max_age = \"15m0s\"\nshutdown_timeout = 0\n\n[session_server]\n  session_timeout = 1800\n", "c.toml").unwrap();
    let runner = RunnerConfig {
        name: "build-host-01".into(),
        url: "https://gitlab.example.com".into(),
        id: 4711,
        token: Secret::new("glrt-REDACTED"),
        token_obtained_at: Timestamp::from_unix(1_772_360_100, 0),
        executor: Some(Executor::Docker),
        cache: Some(CacheConfig { s3: Some(Default::default()), gcs: Some(Default::default()), azure: Some(Default::default()), ..Default::default() }),
        docker: Some(DockerConfig { image: "alpine:latest".into(), volumes: vec!["/cache".into()], services: vec![Service{name:"postgres:16".into(), alias: "db".into(), ..Default::default()}], ..Default::default() }),
        kubernetes: Some(KubernetesConfig::default()),
        ..Default::default()
    };
    doc.add_runner(&runner).unwrap();
    print!("{doc}");
    println!("-----");
    let config = Config { runners: vec![runner], ..Default::default() };
    match toml::to_string(&config) { Ok(s) => print!("{s}"), Err(e) => println!("toml err {e}") }
}
