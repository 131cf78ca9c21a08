//! Generated run names (`adjective-noun-NNN`) for runs created without one.

use rand::seq::SliceRandom;
use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "amber", "brisk", "calm", "clever", "crisp", "daring", "eager", "gentle", "glossy", "honest",
    "lively", "lucid", "mellow", "nimble", "quiet", "rapid", "silent", "steady", "sunny", "swift",
    "tidy", "vivid", "warm", "wise",
];

const NOUNS: &[&str] = &[
    "brook", "canyon", "cedar", "comet", "delta", "ember", "fjord", "grove", "harbor", "heron",
    "lagoon", "maple", "meadow", "otter", "pebble", "quartz", "reef", "ridge", "river", "spruce",
    "stream", "tide", "valley", "willow",
];

/// A random human-friendly run name such as `swift-heron-417`.
pub fn random_run_name() -> String {
    let mut rng = rand::thread_rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("river");
    format!("{adjective}-{noun}-{}", rng.gen_range(0..1000))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let name = super::random_run_name();
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(parts[2].parse::<u32>().unwrap() < 1000);
    }
}
