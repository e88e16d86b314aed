//! Reference models sized like the target (`ReferenceConfig::training_rows`): exactly m rows
//! per model when the pool allows it, the online balance kept, shortfalls recorded, the same
//! sets for any number of threads; RMIA's population points from given candidates; offline
//! RMIA's tuned `a` on its grid and reproducible.

mod common;

use common::{stack, synthetic_parts};
use lethe_data::Dataset;
use lethe_mia::attacks::{OFFLINE_A_GRID, OfflineA, Rmia, Tune};
use lethe_mia::reference::{ReferenceConfig, ReferenceSet, ReferenceTraining, max_subset};
use lethe_models::{LinearModel, LinearModelParams};

const K: usize = 8;

/// Members (40), non-members (40), population (240) of a planted task; the target trains on
/// the members.
fn setup() -> (Vec<Dataset>, LinearModel) {
    let parts = synthetic_parts(&[40, 40, 240], 11);
    let model = LinearModelParams::logistic(1e-4, 0.0)
        .fit_seeded(&parts[0], 0)
        .unwrap();
    (parts, model)
}

fn config(online: bool, training_rows: Option<usize>) -> ReferenceConfig {
    ReferenceConfig {
        n_reference: K,
        online,
        seed: 3,
        training: ReferenceTraining::default(),
        training_rows,
    }
}

/// Rows of reference model `k`: its targets (online) and its population rows.
fn rows_of(set: &ReferenceSet, k: usize) -> usize {
    (0..set.n_targets())
        .filter(|&i| set.target_in(i, k))
        .count()
        + (0..set.n_population())
            .filter(|&j| set.population_in(j, k))
            .count()
}

fn first(ds: &Dataset, n: usize) -> Dataset {
    ds.select(&(0..n).collect::<Vec<_>>()).unwrap()
}

#[test]
fn offline_models_train_on_exactly_m_rows() {
    let (parts, target) = setup();
    let set =
        ReferenceSet::train(&target, &parts[1], &parts[2], &config(false, Some(100))).unwrap();
    for k in 0..K {
        assert_eq!(rows_of(&set, k), 100, "model {k}");
        assert!((0..set.n_targets()).all(|i| !set.target_in(i, k)));
    }
    let d = set.descriptor();
    assert_eq!(d.requested_training_size, Some(100));
    assert_eq!(
        (d.min_training_size, d.max_training_size),
        (Some(100), Some(100))
    );
    assert_eq!(d.mean_training_size, 100.0);
    assert_eq!(d.shortfall, None);
    assert!(d.assignment.starts_with("sized"), "{}", d.assignment);
    // rows are dealt in laps: each row in ⌊K·100/240⌋ = 3 or 4 models
    for j in 0..set.n_population() {
        let ins = (0..K).filter(|&k| set.population_in(j, k)).count();
        assert!((3..=4).contains(&ins), "row {j} in {ins} models");
    }
}

#[test]
fn online_models_keep_the_balance_and_train_on_m_rows() {
    let (parts, target) = setup();
    let targets = stack(&parts[0], &parts[1]);
    let sized =
        ReferenceSet::train(&target, &targets, &parts[2], &config(true, Some(150))).unwrap();
    let half = ReferenceSet::train(&target, &targets, &parts[2], &config(true, None)).unwrap();
    for i in 0..targets.n_samples() {
        let ins = (0..K).filter(|&k| sized.target_in(i, k)).count();
        assert_eq!(ins, K / 2, "target {i} must be IN exactly K/2 models");
        for k in 0..K {
            assert_eq!(
                sized.target_in(i, k),
                half.target_in(i, k),
                "the targets keep the balanced design's IN/OUT pattern"
            );
        }
    }
    for k in 0..K {
        assert_eq!(rows_of(&sized, k), 150, "model {k}");
    }
    let d = sized.descriptor();
    assert_eq!(
        (d.min_training_size, d.max_training_size),
        (Some(150), Some(150))
    );
    assert_eq!(d.shortfall, None);
    // without m: the half-pool design, and nothing new in the descriptor
    let h = half.descriptor();
    assert_eq!(h.requested_training_size, None);
    assert_eq!(h.min_training_size, None);
    assert_eq!(
        h.assignment,
        "balanced: every pool row in exactly K/2 models"
    );
    let json = serde_json::to_value(h).unwrap();
    for field in [
        "requested_training_size",
        "min_training_size",
        "max_training_size",
        "shortfall",
    ] {
        assert!(
            json.get(field).is_none(),
            "{field} must be absent without m"
        );
    }
}

#[test]
fn a_pool_too_small_for_m_is_a_recorded_shortfall() {
    let (parts, target) = setup();
    // offline: 40 population rows, at most 30 per model
    let population = first(&parts[2], 40);
    assert_eq!(max_subset(40), 30);
    let set =
        ReferenceSet::train(&target, &parts[1], &population, &config(false, Some(100))).unwrap();
    for k in 0..K {
        assert_eq!(rows_of(&set, k), 30);
    }
    let d = set.descriptor();
    assert_eq!(d.requested_training_size, Some(100));
    assert_eq!(
        (d.min_training_size, d.max_training_size),
        (Some(30), Some(30))
    );
    let warning = d.shortfall.as_deref().expect("a shortfall");
    assert!(warning.contains("8 of 8 reference models"), "{warning}");
    assert!(warning.contains("100 requested"), "{warning}");
    // every row is in ⌊K·30/40⌋ = 6 models: left out by 2 (offline RMIA needs Pr_OUT)
    for j in 0..population.n_samples() {
        assert_eq!((0..K).filter(|&k| set.population_in(j, k)).count(), 6);
    }
    // online: 80 targets (K/2 models each) and 20 population rows, at most 15 per model
    let targets = stack(&parts[0], &parts[1]);
    let small = first(&parts[2], 20);
    let set = ReferenceSet::train(&target, &targets, &small, &config(true, Some(100))).unwrap();
    let d = set.descriptor();
    assert!(d.shortfall.is_some());
    for k in 0..K {
        let t = (0..80).filter(|&i| set.target_in(i, k)).count();
        assert_eq!(rows_of(&set, k), t + max_subset(20));
    }
    // a pool that suffices: no shortfall
    let set = ReferenceSet::train(&target, &targets, &parts[2], &config(true, Some(60))).unwrap();
    assert_eq!(set.descriptor().shortfall, None);
}

#[test]
fn sized_sets_are_seeded_and_independent_of_threads() {
    let (parts, target) = setup();
    let targets = stack(&parts[0], &parts[1]);
    for online in [true, false] {
        let cfg = config(online, Some(120));
        let many = ReferenceSet::train(&target, &targets, &parts[2], &cfg).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| ReferenceSet::train(&target, &targets, &parts[2], &cfg).unwrap());
        assert_eq!(many.target_statistics(), one.target_statistics());
        assert_eq!(many.population_statistics(), one.population_statistics());
        let other = ReferenceSet::train(
            &target,
            &targets,
            &parts[2],
            &ReferenceConfig { seed: 4, ..cfg },
        )
        .unwrap();
        let differs = (0..parts[2].n_samples())
            .any(|j| (0..K).any(|k| other.population_in(j, k) != many.population_in(j, k)));
        assert!(differs, "another seed draws other subsets");
    }
}

#[test]
fn rmia_population_points_come_from_the_candidates() {
    let (parts, target) = setup();
    let targets = stack(&parts[0], &parts[1]);
    let rmia = Rmia {
        n_reference: K,
        seed: 2,
        n_population_points: 10,
        ..Rmia::default()
    };
    let set = ReferenceSet::train(&target, &targets, &parts[2], &rmia.reference_config()).unwrap();
    let candidates: Vec<usize> = (200..240).collect();
    let out = rmia
        .score_with_points(&target, &targets, &parts[2], &set, Some(&candidates))
        .unwrap();
    let p = &out.descriptor.parameters;
    assert_eq!(p["n_population_points"], 10);
    assert_eq!(p["population_point_candidates"], 40);
    let rows: Vec<usize> = serde_json::from_value(p["population_point_rows"].clone()).unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| candidates.contains(r)), "{rows:?}");
    assert!(out.scores.iter().all(|s| (0.0..=1.0).contains(s)));
    // no candidates, or one out of range: typed errors
    assert!(
        rmia.score_with_points(&target, &targets, &parts[2], &set, Some(&[]))
            .is_err()
    );
    assert!(
        rmia.score_with_points(&target, &targets, &parts[2], &set, Some(&[240]))
            .is_err()
    );
    // without candidates: the whole population, as score_with
    let all = rmia
        .score_with_points(&target, &targets, &parts[2], &set, None)
        .unwrap();
    assert_eq!(
        all.scores,
        rmia.score_with(&target, &targets, &parts[2], &set)
            .unwrap()
            .scores
    );
}

#[test]
fn offline_a_is_tuned_on_the_grid_and_reproducible() {
    let (parts, target) = setup();
    let targets = stack(&parts[0], &parts[1]);
    let tuned = Rmia {
        n_reference: 16,
        online: false,
        seed: 2,
        offline_a: OfflineA::Tune(Tune::Tune),
        ..Rmia::default()
    };
    let run = || tuned.run(&target, &targets, &parts[2]).unwrap();
    let (a, b) = (run(), run());
    assert_eq!(a.scores, b.scores);
    assert_eq!(a.descriptor.parameters, b.descriptor.parameters);
    let p = &a.descriptor.parameters;
    assert_eq!(p["offline_a_source"], "tuned");
    let chosen = p["offline_a"].as_f64().unwrap();
    assert!(OFFLINE_A_GRID.contains(&chosen), "{chosen}");
    let tuning = &p["offline_a_tuning"];
    let aucs: Vec<f64> = serde_json::from_value(tuning["auc"].clone()).unwrap();
    assert_eq!(aucs.len(), OFFLINE_A_GRID.len());
    let best = aucs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let first_best = aucs.iter().position(|&x| x == best).unwrap();
    assert_eq!(
        chosen, OFFLINE_A_GRID[first_best],
        "the first a with the largest AUC"
    );
    assert_eq!(tuning["chosen"], chosen);
    assert!(
        a.descriptor.variant.contains("(tuned)"),
        "{}",
        a.descriptor.variant
    );
    // the tuned attack scores as the fixed attack with the chosen a
    let fixed = Rmia {
        offline_a: OfflineA::Fixed(chosen),
        ..tuned
    }
    .run(&target, &targets, &parts[2])
    .unwrap();
    assert_eq!(fixed.scores, a.scores);
    assert_eq!(fixed.descriptor.parameters["offline_a_source"], "fixed");
    assert!(fixed.descriptor.variant.contains("(fixed)"));
    // serde: a number or "tune"
    assert_eq!(
        serde_json::to_value(OfflineA::Tune(Tune::Tune)).unwrap(),
        "tune"
    );
    assert_eq!(
        serde_json::from_value::<OfflineA>(serde_json::json!(0.5)).unwrap(),
        OfflineA::Fixed(0.5)
    );
    assert!(serde_json::from_value::<OfflineA>(serde_json::json!("tuned")).is_err());
}
