import ArgumentParser

@main
struct GANCL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan-cl",
        abstract: "Train Generative Adversarial Networks on any OpenCL device.",
        subcommands: [Train.self, Sample.self, Eval.self, Classifier.self, Devices.self, Bench.self, Tune.self])
}
