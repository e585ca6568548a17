import ArgumentParser
import Foundation
import GANCore

/// Runs `body`; any error other than an exit code becomes one `gan-cl: error: …` line
/// on standard error and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch let interrupted as TrainingInterrupted {
        FileHandle.standardError.write(Data("gan-cl: \(interrupted)\n".utf8))
        throw ExitCode(interrupted.exitCode)
    } catch {
        FileHandle.standardError.write(Data("gan-cl: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Prints a status line and flushes it, so a log file has it even if the process is
/// killed a moment later.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Writes a benchmark's results as pretty-printed JSON and says where.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(value).write(to: URL(fileURLWithPath: path))
    say("wrote \(path)")
}

/// Prints a fixed-width text table, one row at a time.
struct TablePrinter {
    let columns: [(String, Int)]

    func printHeader() {
        printRow(columns.map(\.0))
        print(columns.map { String(repeating: "-", count: $0.1) }.joined(separator: "  "))
    }

    func printRow(_ cells: [String]) {
        let padded = zip(cells, columns).map { cell, column in
            cell.count >= column.1 ? cell : cell + String(repeating: " ", count: column.1 - cell.count)
        }
        print(padded.joined(separator: "  "))
        fflush(nil)
    }
}

func formatBytes(_ bytes: Int) -> String {
    let gib = Double(bytes) / 1_073_741_824
    if gib >= 1 { return String(format: "%.1f GiB", gib) }
    return String(format: "%.1f MiB", Double(bytes) / 1_048_576)
}

func formatScientific(_ value: Double) -> String {
    String(format: "%.2e", value)
}
