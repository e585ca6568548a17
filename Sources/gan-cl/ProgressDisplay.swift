import Foundation
import GANCore

/// Training progress for a person: on a terminal, one status line redrawn in place;
/// otherwise one plain line per log step.
struct ProgressDisplay {
    let interactive = isatty(STDOUT_FILENO) != 0
    let totalEpochs: Int
    private var last: StepMetrics?

    init(totalEpochs: Int) {
        self.totalEpochs = totalEpochs
    }

    mutating func show(_ p: TrainingProgress) {
        if let m = p.metrics { last = m }
        if interactive {
            let within = p.batchInEpoch
            let filled = p.batchesPerEpoch > 0 ? within * 20 / p.batchesPerEpoch : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: 20 - filled)
            let remaining = p.imagesPerSecond > 0 && p.step > 0 ? p.elapsed / Double(p.step) * Double(p.totalSteps - p.step) : 0
            var line = "\r\u{1B}[2Kepoch \(p.epoch + 1)/\(totalEpochs) [\(bar)] step \(p.step)/\(p.totalSteps)"
            line += String(format: " | %.0f img/s | ETA %@", p.imagesPerSecond, duration(remaining))
            if let m = last {
                line += String(format: " | D %.3f G %.3f D(x) %.2f D(G(z)) %.2f", m.discriminatorLoss, m.generatorLoss, m.realScore, m.fakeScore)
                line += lossFigures(m)
            }
            FileHandle.standardOutput.write(Data(line.utf8))
            if p.step == p.totalSteps { print("") }
        } else if let m = p.metrics {
            print(String(format: "step %d/%d epoch %d d_loss %.4f g_loss %.4f D(x) %.3f D(G(z)) %.3f",
                         p.step, p.totalSteps, p.epoch + 1, m.discriminatorLoss, m.generatorLoss, m.realScore, m.fakeScore)
                  + lossFigures(m) + String(format: " %.0f img/s", p.imagesPerSecond))
            fflush(nil)
        }
    }

    /// The loss-specific figures: the Wasserstein estimate, the gradient penalty and ‖∇ₓD(x̂)‖.
    private func lossFigures(_ m: StepMetrics) -> String {
        var text = ""
        if let w = m.wasserstein { text += String(format: " W %.4f", w) }
        if let gp = m.gradientPenalty, let norm = m.gradientNorm { text += String(format: " GP %.4f |grad| %.3f", gp, norm) }
        return text
    }

    private func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
