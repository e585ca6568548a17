import ArgumentParser
import Foundation

@main
struct GANCL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gan-cl",
        abstract: "Train Generative Adversarial Networks on any OpenCL device.",
        subcommands: [Train.self, Sample.self, Eval.self, Export.self, Classifier.self, Devices.self, Bench.self, Tune.self])

    /// ArgumentParser's main, except that a bad flag or value is one line on standard
    /// error ("gan-cl: error: ...") like every other error, rather than the message with
    /// the option's help and the usage after it; help and version print as usual.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            var message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            FileHandle.standardError.write(Data("gan-cl: error: \(message)\n".utf8))
            exit(withError: ExitCode(code.rawValue))
        }
    }
}
