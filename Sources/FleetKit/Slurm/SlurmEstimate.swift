// How long a topology will run, before it runs: what `fleet submit` checks a time limit against.
// A deliberately generous rule from measured runs (2026-12-02, 2 vCPUs): the quickstart (8 int8
// devices, 25 steps of batch 4 per round, 12,000 + 5,000 images) took 1.5 min to load and cache
// its data and about 10 s per round on one core per node process.
import Foundation

public enum SlurmEstimate {
    /// Seconds per sample to load, preprocess and cache the frozen front, on one core.
    static let cacheSecondsPerSample = 0.015
    /// Seconds per sample of a device's local step (forward and backward of the trainable tail).
    static let stepSecondsPerSample = 0.012
    /// Seconds of evaluation per test image per round (the coordinator's global test set).
    static let evalSecondsPerImage = 0.002

    /// An upper estimate of the run's wall time in seconds on one core per node process: start-up
    /// (data and caches, split over the node processes), then each round's slowest node process
    /// (its devices' local steps in sequence) and the coordinator's evaluation; doubled for margin.
    public static func seconds(_ t: Topology) -> Int {
        let nodes = max(1, t.nodes.count)
        let train = t.dataset.trainSamples > 0 ? t.dataset.trainSamples : t.dataset.name == .synthetic ? t.dataset.syntheticCount : 60_000
        let samples = Double(train + max(0, t.dataset.testSamples))
        let startup = 30 + samples * cacheSecondsPerSample / Double(nodes)
        let devicesPerNode = (Double(t.deviceCount) * t.rounds.sampleFraction / Double(nodes)).rounded(.up)
        let stepSamples = t.groups.map { Double($0.localSteps * $0.batch) }.max() ?? 0
        let round = devicesPerNode * stepSamples * stepSecondsPerSample + Double(t.dataset.testSamples) * evalSecondsPerImage + 2
        return Int((2 * (startup + Double(t.rounds.count) * round)).rounded(.up))
    }
}
