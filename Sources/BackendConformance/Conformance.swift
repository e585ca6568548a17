import CPUBackend
import ComputeBackend

/// Runs the catalogue's trials on a backend and on the CPU reference, and compares.
public enum Conformance {
    /// Runs every trial of `operations` (all by default) at `size` on `backend`, calling
    /// `report` with each result as it is known. Returns all results.
    @discardableResult
    public static func run<B: ComputeBackend>(
        on backend: B, size: ConformanceSize, operations: [String] = ConformanceCatalogue.operations,
        report: (TrialResult) -> Void = { _ in }
    ) throws -> [TrialResult] {
        let reference = CPUBackend(referenceGEMM: true)
        var results: [TrialResult] = []
        for operation in operations {
            for trial in ConformanceCatalogue.trials(of: operation, size: size) {
                let result = try check(trial, on: backend, reference: reference)
                report(result)
                results.append(result)
            }
        }
        return results
    }

    /// One trial on `backend` and on `reference`, compared.
    public static func check<B: ComputeBackend>(
        _ trial: Trial, on backend: B, reference: CPUBackend = CPUBackend(referenceGEMM: true)
    ) throws -> TrialResult {
        let expected = try trial.run(on: reference)
        let actual = try trial.run(on: backend)
        return TrialComparer.compare(trial, outputs: actual, reference: expected)
    }

    /// Compares a backend's outputs of `trial` with the reference's.
    public static func compare(_ trial: Trial, outputs: [[Float]], reference: [[Float]]) -> TrialResult {
        TrialComparer.compare(trial, outputs: outputs, reference: reference)
    }
}
