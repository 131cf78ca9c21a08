//! Test helpers both grammars' tests use.

/// `template` with each all-upper-case word re-cased by the next of `masks`: bit `i` set keeps
/// letter `i` upper case, clear lowers it. Words run out of masks stay lower case.
pub(super) fn recase_keywords(template: &str, masks: impl IntoIterator<Item = u32>) -> String {
    let mut masks = masks.into_iter();
    let recased: Vec<String> = template
        .split(' ')
        .map(|word| {
            if !word.chars().all(|c| c.is_ascii_uppercase()) {
                return word.to_owned();
            }
            let mask = masks.next().unwrap_or(0);
            word.chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask >> i & 1 == 1 {
                        c
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        })
        .collect();
    recased.join(" ")
}
