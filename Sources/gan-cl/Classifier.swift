import ArgumentParser
import ComputeBackend
import Foundation
import GANCore

/// `gan-cl classifier`
struct Classifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the reference Fashion-MNIST classifier whose features gan-cl eval uses.",
        discussion: """
            An MLP 784→512→256→10 (ReLU) trained with Adam (1e-3, cosine decay), batches of \
            128 and random horizontal flips; prints the test accuracy each epoch and the \
            file's SHA-256. The committed models/fmnist-classifier.safetensors came from

              gan-cl classifier --backend cpu --epochs 15 --seed 1 --out models/fmnist-classifier.safetensors
            """)

    @Option(help: "Fashion-MNIST directory (train and t10k files).") var data: String = ImageDataset.defaultDirectory
    @Option(help: "Passes over the training split.") var epochs: Int = 15
    @Option(help: "Seed of initialisation, data order and flips.") var seed: UInt64 = 1
    @Option(help: "Where to write the weights (.safetensors).") var out: String
    @OptionGroup var target: BackendOptions

    func run() throws {
        try reportingErrors {
            guard epochs >= 1 else { throw GANError("--epochs must be at least 1, got \(epochs)") }
            let train = try ImageDataset.load(directory: data, split: .train)
            let test = try ImageDataset.load(directory: data, split: .test)
            try withBackend(target.backend, device: target.device) { backend in
                say("Training the reference classifier \(ReferenceClassifier.shape) on \(backend.name)")
                let (file, accuracy) = try ClassifierTraining.train(
                    backend: backend, train: train, test: test, epochs: epochs, seed: seed
                ) { epoch in
                    say(String(format: "epoch %d/%d  train loss %.4f  test accuracy %.2f%%  %.0f s",
                               epoch.epoch, epochs, epoch.trainLoss, epoch.testAccuracy * 100, epoch.seconds))
                }
                let bytes = try file.encoded()
                try writeAtomically(bytes, to: out)
                say(String(format: "wrote %@: test accuracy %.2f%%, SHA-256 %@", out, accuracy * 100, SHA256.hex(bytes)))
            }
        }
    }
}
