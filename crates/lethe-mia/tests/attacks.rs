//! Attacks point the right way: an overfit model leaks, a model that never saw the points
//! does not; LiRA/RMIA/shadow models work; unlearning attacks separate exact and no unlearning.

mod common;

use common::{digits10_parts, empty, mask, stack, synthetic_parts};
use lethe_data::Dataset;
use lethe_mia::MiaError;
use lethe_mia::attacks::{
    DifferenceAttack, Lira, LiraScoring, LossAttack, NoUnlearning, Retrain, Rmia, ShadowAttack,
    ShadowFeatures, ThresholdAttack, ULira, UnlearnRequest, Unlearner, VarianceMode,
};
use lethe_mia::metrics::{AttackMetrics, EvaluationOptions, Leak};
use lethe_models::{LinearModel, LinearModelParams, OneVsRestModel};

const LAMBDA: f64 = 1e-4;

fn eval(scores: &lethe_mia::AttackOutput, is_member: &[bool]) -> AttackMetrics {
    scores
        .evaluate(is_member, &EvaluationOptions::default())
        .unwrap()
}

/// Synthetic binary task: members (40), non-members (40), population (240); the target is
/// trained on the members with a tiny λ (d = 50 > n = 40: it fits its noisy labels exactly).
fn setup() -> (Vec<Dataset>, LinearModel) {
    let parts = synthetic_parts(&[40, 40, 240], 11);
    let model = LinearModelParams::logistic(LAMBDA, 0.0)
        .fit_seeded(&parts[0], 0)
        .unwrap();
    assert_eq!(
        model.accuracy(&parts[0]).unwrap(),
        1.0,
        "the model must overfit"
    );
    (parts, model)
}

#[test]
fn overfit_model_leaks_and_unseen_model_does_not() {
    // bundled digits, ten classes one-vs-rest: 60 members (6 per class, d = 64), λ = 1e-5
    let parts = digits10_parts(&[60, 200, 60], 3);
    let params = LinearModelParams::logistic(1e-5, 0.0);
    let overfit = OneVsRestModel::fit_seeded(&params, &parts[0], 0).unwrap();
    let candidates = stack(&parts[0], &parts[1]);
    let is_member = mask(60, 200);
    let m = eval(&LossAttack.run(&overfit, &candidates).unwrap(), &is_member);
    println!("digits OvR LOSS: {:?}", m.auc_ci);
    assert!(
        m.auc_ci.lower > 0.6,
        "LOSS on an overfit model: {:?}",
        m.auc_ci
    );
    assert_eq!(m.leak, Leak::AboveChance);
    // a model trained on rows that are neither members nor non-members
    let unseen = OneVsRestModel::fit_seeded(&params, &parts[2], 0).unwrap();
    let m = eval(&LossAttack.run(&unseen, &candidates).unwrap(), &is_member);
    println!("digits OvR LOSS, unseen: {:?}", m.auc_ci);
    assert!(
        m.auc_ci.contains(0.5),
        "a model that never saw either set: {:?}",
        m.auc_ci
    );
    assert_eq!(m.leak, Leak::None);

    // the binary synthetic task, with every threshold statistic
    let (parts, overfit) = setup();
    let candidates = stack(&parts[0], &parts[1]);
    let is_member = mask(40, 40);
    for attack in [
        ThresholdAttack::loss(),
        ThresholdAttack::confidence(),
        ThresholdAttack::modified_entropy(),
    ] {
        let out = attack.run(&overfit, &candidates).unwrap();
        assert_eq!(out.descriptor.label(), attack.statistic.name());
        let m = eval(&out, &is_member);
        println!("synthetic {attack:?}: {:?}", m.auc_ci);
        assert!(m.auc_ci.lower > 0.5, "{attack:?}: {:?}", m.auc_ci);
    }
    let unseen = LinearModelParams::logistic(LAMBDA, 0.0)
        .fit_seeded(&parts[2].select(&(0..40).collect::<Vec<_>>()).unwrap(), 0)
        .unwrap();
    let m = eval(&LossAttack.run(&unseen, &candidates).unwrap(), &is_member);
    println!("synthetic LOSS, unseen: {:?}", m.auc_ci);
    assert!(m.auc_ci.contains(0.5), "{:?}", m.auc_ci);
}

#[test]
fn lira_online_and_offline_beat_chance_and_match_loss() {
    let (parts, overfit) = setup();
    let candidates = stack(&parts[0], &parts[1]);
    let population = parts[2].select(&(0..80).collect::<Vec<_>>()).unwrap();
    let is_member = mask(40, 40);
    let loss_auc = eval(&LossAttack.run(&overfit, &candidates).unwrap(), &is_member).auc;
    let online = Lira {
        n_reference: 32,
        online: true,
        variance: VarianceMode::PerExample,
        scoring: LiraScoring::Density,
        seed: 1,
        ..Lira::default()
    };
    // online pool = the 80 candidates only: every reference model trains on 40 rows, as the target
    let out = online.run(&overfit, &candidates, &empty(50)).unwrap();
    let m_on = eval(&out, &is_member);
    println!("online LiRA: {:?}, LOSS {loss_auc}", m_on.auc_ci);
    assert!(m_on.auc_ci.lower > 0.5, "online LiRA {:?}", m_on.auc_ci);
    assert!(
        m_on.auc >= loss_auc - 0.02,
        "online LiRA {} vs LOSS {loss_auc}",
        m_on.auc
    );
    let d = &out.descriptor;
    assert_eq!(
        (d.n_reference, d.online, d.seed),
        (Some(32), Some(true), Some(1))
    );
    assert!(d.variant.contains("density"));
    assert_eq!(d.label(), "lira_online");
    let r = d.reference.as_ref().unwrap();
    assert_eq!(r.mean_training_size, 40.0);

    for (variance, scoring) in [
        (VarianceMode::Global, LiraScoring::OneSidedLikelihoodRatio),
        (
            VarianceMode::PerExample,
            LiraScoring::OneSidedLikelihoodRatio,
        ),
        (VarianceMode::Global, LiraScoring::Density),
        (VarianceMode::PerExample, LiraScoring::Density),
    ] {
        let offline = Lira {
            online: false,
            variance,
            scoring,
            ..online
        };
        // offline pool = 80 population rows: again 40 rows per reference model
        let out = offline.run(&overfit, &candidates, &population).unwrap();
        let m = eval(&out, &is_member);
        println!("offline LiRA {variance:?} {scoring:?}: {:?}", m.auc_ci);
        if scoring == LiraScoring::OneSidedLikelihoodRatio {
            assert!(
                m.auc_ci.lower > 0.5,
                "offline LiRA {variance:?} {scoring:?}: {:?}",
                m.auc_ci
            );
        }
        assert_eq!(out.descriptor.label(), "lira_offline");
        let json = serde_json::to_string(&out.descriptor).unwrap();
        assert!(json.contains("offline"), "{json}");
        assert!(json.contains(match scoring {
            LiraScoring::OneSidedLikelihoodRatio => "one-sided likelihood ratio",
            LiraScoring::Density => "density",
        }));
    }
}

#[test]
fn lira_on_one_vs_rest_digits() {
    let parts = digits10_parts(&[60, 60, 120], 3);
    let params = LinearModelParams::logistic(1e-5, 0.0);
    let model = OneVsRestModel::fit_seeded(&params, &parts[0], 0).unwrap();
    let candidates = stack(&parts[0], &parts[1]);
    let is_member = mask(60, 60);
    let lira = Lira {
        n_reference: 8,
        online: true,
        variance: VarianceMode::Global,
        ..Lira::default()
    };
    let out = lira.run(&model, &candidates, &empty(50)).unwrap();
    assert_eq!(out.descriptor.target, "one_vs_rest");
    let m = eval(&out, &is_member);
    println!("OvR online LiRA: {:?}", m.auc_ci);
    assert!(m.auc_ci.lower > 0.5, "{:?}", m.auc_ci);
    let offline = Lira {
        online: false,
        scoring: LiraScoring::OneSidedLikelihoodRatio,
        ..lira
    };
    let m = eval(
        &offline.run(&model, &candidates, &parts[2]).unwrap(),
        &is_member,
    );
    println!("OvR offline LiRA: {:?}", m.auc_ci);
    assert!(m.auc_ci.lower > 0.5, "{:?}", m.auc_ci);
}

#[test]
fn lira_is_reproducible() {
    let (parts, overfit) = setup();
    let lira = Lira {
        n_reference: 8,
        online: false,
        scoring: LiraScoring::OneSidedLikelihoodRatio,
        ..Lira::default()
    };
    let a = lira.run(&overfit, &parts[1], &parts[2]).unwrap();
    let b = lira.run(&overfit, &parts[1], &parts[2]).unwrap();
    assert_eq!(a.scores, b.scores);
    let c = Lira { seed: 5, ..lira }
        .run(&overfit, &parts[1], &parts[2])
        .unwrap();
    assert_ne!(a.scores, c.scores);
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let (parts, overfit) = setup();
    let lira = Lira {
        n_reference: 8,
        online: true,
        ..Lira::default()
    };
    let candidates = stack(&parts[0], &parts[1]);
    let many = lira.run(&overfit, &candidates, &empty(50)).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one = pool.install(|| lira.run(&overfit, &candidates, &empty(50)).unwrap());
    assert_eq!(many.scores, one.scores);
    let opts = EvaluationOptions::default();
    let a = many.evaluate(&mask(40, 40), &opts).unwrap();
    let b = pool.install(|| many.evaluate(&mask(40, 40), &opts).unwrap());
    assert_eq!(a, b, "bootstrap intervals are per-replicate streams");
}

/// An unlearner that returns the wrong number of decision values.
struct Broken;

impl Unlearner for Broken {
    fn name(&self) -> String {
        "broken".into()
    }

    fn unlearn(&self, _: &UnlearnRequest<'_>) -> lethe_mia::Result<nalgebra::DMatrix<f64>> {
        Ok(nalgebra::DMatrix::zeros(1, 1))
    }
}

#[test]
fn a_misbehaving_unlearner_is_an_error() {
    let (_, unlearned, candidates, population, _) = removal_setup(true);
    let attack = ULira {
        n_shadow: 4,
        ..ULira::default()
    };
    assert!(matches!(
        attack.run(&unlearned, &candidates, &population, &Broken),
        Err(MiaError::LengthMismatch { .. })
    ));
}

#[test]
fn rmia_online_and_offline_beat_chance() {
    let (parts, overfit) = setup();
    let candidates = stack(&parts[0], &parts[1]);
    let is_member = mask(40, 40);
    for online in [true, false] {
        let rmia = Rmia {
            n_reference: 16,
            online,
            seed: 2,
            ..Rmia::default()
        };
        let population = parts[2].select(&(0..80).collect::<Vec<_>>()).unwrap();
        let out = rmia.run(&overfit, &candidates, &population).unwrap();
        assert!(out.scores.iter().all(|s| (0.0..=1.0).contains(s)));
        let m = eval(&out, &is_member);
        println!("RMIA online = {online}: {:?}", m.auc_ci);
        assert!(
            m.auc_ci.lower > 0.5,
            "RMIA online = {online}: {:?}",
            m.auc_ci
        );
        assert_eq!(out.descriptor.parameters["n_population_points"], 80);
    }
}

#[test]
fn shadow_models_beat_chance() {
    let (parts, model) = setup();
    let candidates = stack(&parts[0], &parts[1]);
    for features in [
        ShadowFeatures::SortedConfidences,
        ShadowFeatures::SortedConfidencesAndTrueLabel,
    ] {
        let attack = ShadowAttack {
            n_shadow: 3,
            shadow_train_size: Some(40),
            features,
            seed: 1,
            ..ShadowAttack::default()
        };
        let out = attack.run(&model, &candidates, &parts[2]).unwrap();
        let m = eval(&out, &mask(40, 40));
        println!("shadow {features:?}: {:?}", m.auc_ci);
        assert!(m.auc_ci.lower > 0.5, "{features:?}: {:?}", m.auc_ci);
        assert_eq!(out.descriptor.n_reference, Some(3));
        assert_eq!(out.descriptor.label(), "shadow_models_offline");
    }
    // the population must hold the disjoint blocks
    let too_many = ShadowAttack {
        n_shadow: 10,
        shadow_train_size: Some(40),
        ..ShadowAttack::default()
    };
    assert!(matches!(
        too_many.run(&model, &candidates, &parts[2]),
        Err(MiaError::InvalidParameter { .. })
    ));
}

/// The audited removal: a model trained on `retain ∪ forget`, then `forget` removed exactly
/// (retrained on `retain`), or not at all. Returns (original, unlearned, candidates =
/// forget ++ held-out, population, is_forget).
fn removal_setup(exact: bool) -> (LinearModel, LinearModel, Dataset, Dataset, Vec<bool>) {
    // forget (20), retain (20), held-out (20), population (40)
    let parts = synthetic_parts(&[20, 20, 20, 40], 21);
    let (forget, retain, held_out, population) = (&parts[0], &parts[1], &parts[2], &parts[3]);
    let params = LinearModelParams::logistic(LAMBDA, 0.0);
    let original = params.fit_seeded(&stack(forget, retain), 0).unwrap();
    let unlearned = if exact {
        params.fit_seeded(retain, 1).unwrap()
    } else {
        original.clone()
    };
    (
        original,
        unlearned,
        stack(forget, held_out),
        population.clone(),
        mask(20, 20),
    )
}

#[test]
fn difference_attack_detects_the_forget_set() {
    let (original, unlearned, candidates, _, is_forget) = removal_setup(true);
    let out = DifferenceAttack::default()
        .run(&original, &unlearned, &candidates)
        .unwrap();
    let m = eval(&out, &is_forget);
    println!("difference attack: {:?}", m.auc_ci);
    assert!(m.auc_ci.lower > 0.5, "{:?}", m.auc_ci);
    // nothing removed ⇒ no difference at all ⇒ AUC exactly 0.5
    let out = DifferenceAttack::default()
        .run(&original, &original, &candidates)
        .unwrap();
    assert_eq!(eval(&out, &is_forget).auc, 0.5);
}

#[test]
fn u_lira_separates_exact_from_no_unlearning() {
    let attack = ULira {
        n_shadow: 16,
        seed: 4,
        ..ULira::default()
    };
    // exact unlearning: the unlearned model is a retrained one ⇒ no signal
    let (_, unlearned, candidates, population, is_forget) = removal_setup(true);
    let out = attack
        .run(&unlearned, &candidates, &population, &Retrain)
        .unwrap();
    let m = eval(&out, &is_forget);
    println!("U-LiRA, exact unlearning: {:?}", m.auc_ci);
    assert!(m.auc_ci.contains(0.5), "exact unlearning: {:?}", m.auc_ci);
    assert!(out.descriptor.variant.contains("retrain"));

    // no unlearning: the "unlearned" model is the original ⇒ the forget set stands out
    let (_, unchanged, candidates, population, is_forget) = removal_setup(false);
    let out = attack
        .run(&unchanged, &candidates, &population, &NoUnlearning)
        .unwrap();
    let m = eval(&out, &is_forget);
    println!("U-LiRA, no unlearning: {:?}", m.auc_ci);
    assert!(m.auc_ci.lower > 0.5, "no unlearning: {:?}", m.auc_ci);
}

#[test]
fn bad_configurations_are_typed_errors() {
    let (parts, overfit) = setup();
    let online_one_sided = Lira {
        online: true,
        scoring: LiraScoring::OneSidedLikelihoodRatio,
        n_reference: 4,
        ..Lira::default()
    };
    assert!(matches!(
        online_one_sided.run(&overfit, &parts[1], &parts[2]),
        Err(MiaError::Unsupported { .. })
    ));
    let odd = Lira {
        n_reference: 3,
        ..Lira::default()
    };
    assert!(matches!(
        odd.run(&overfit, &parts[1], &parts[2]),
        Err(MiaError::InvalidParameter { .. })
    ));
    let offline = Lira {
        online: false,
        n_reference: 4,
        ..Lira::default()
    };
    assert!(offline.run(&overfit, &parts[1], &empty(50)).is_err());
    assert!(matches!(
        offline.run(&overfit, &empty(50), &parts[2]),
        Err(MiaError::Empty { .. })
    ));
    // wrong dimension
    let narrow = Dataset::from_rows(&[vec![0.5; 3]], vec![1.0]).unwrap();
    assert!(matches!(
        LossAttack.run(&overfit, &narrow),
        Err(MiaError::LengthMismatch { .. })
    ));
    // a label the model does not know
    let bad_label = Dataset::from_rows(&[vec![0.1; 50]], vec![3.0]).unwrap();
    assert!(matches!(
        LossAttack.run(&overfit, &bad_label),
        Err(MiaError::UnknownLabel { .. })
    ));
    // probability-based attacks on a squared-loss model
    let ridge = LinearModelParams::squared(1e-2, 0.0)
        .fit_seeded(&parts[0], 0)
        .unwrap();
    assert!(LossAttack.run(&ridge, &parts[1]).is_ok());
    assert!(matches!(
        ThresholdAttack::confidence().run(&ridge, &parts[1]),
        Err(MiaError::UnsupportedLoss { .. })
    ));
    assert!(matches!(
        offline.run(&ridge, &parts[1], &parts[2]),
        Err(MiaError::UnsupportedLoss { .. })
    ));
    assert!(matches!(
        Rmia {
            gamma: 0.5,
            ..Rmia::default()
        }
        .run(&overfit, &parts[1], &parts[2]),
        Err(MiaError::InvalidParameter { .. })
    ));
}
