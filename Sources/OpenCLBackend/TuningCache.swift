import Foundation

/// The GEMM tunables `gan-cl tune` chose on one device, as the cache file keeps them.
public struct TunedEntry: Codable, Equatable, Sendable {
    public var device: String
    public var platform: String
    public var driver: String
    public var gemm: GEMMTunables
    /// Whether the CPU kernels (gemm_rows) won, rather than the tiled kernel.
    public var cpuKernels: Bool
    /// When the search ran (ISO 8601), and the winner's summed GEMM time over the GAN's
    /// layer shapes, in milliseconds.
    public var date: String
    public var milliseconds: Double

    public init(
        device: OpenCLDevice, gemm: GEMMTunables, cpuKernels: Bool, date: String, milliseconds: Double
    ) {
        self.device = device.name
        platform = device.platformName
        driver = device.driverVersion
        self.gemm = gemm
        self.cpuKernels = cpuKernels
        self.date = date
        self.milliseconds = milliseconds
    }

    /// Whether this entry was tuned on `device` with its current driver.
    public func matches(_ device: OpenCLDevice) -> Bool {
        self.device == device.name && platform == device.platformName && driver == device.driverVersion
    }
}

/// The file of tuned entries, one per device and driver: `GANCL_TUNING_CACHE`, else
/// `$XDG_CACHE_HOME/gan-cl/tunables.json`, else `~/.cache/gan-cl/tunables.json`.
/// A device's entry is used by every later run on it; a new driver version needs a new
/// search (its entry no longer matches).
public enum TuningCache {
    public static let variable = "GANCL_TUNING_CACHE"

    struct File: Codable {
        static let currentFormat = "gan-cl tunables 1"
        var format = currentFormat
        var entries: [TunedEntry]
    }

    public static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[variable], !path.isEmpty { return path }
        if let base = environment["XDG_CACHE_HOME"], !base.isEmpty { return "\(base)/gan-cl/tunables.json" }
        return "\(environment["HOME"] ?? ".")/.cache/gan-cl/tunables.json"
    }

    /// Every entry of the file at `path`; none when there is no file.
    public static func entries(at path: String = path) throws -> [TunedEntry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OpenCLError.badTunables("cannot read the tuning cache \(path)")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data), file.format == File.currentFormat else {
            throw OpenCLError.badTunables(
                "\(path) is not a gan-cl tuning cache; delete it, or run gan-cl tune to write it again")
        }
        return file.entries
    }

    /// The entry for `device` and its driver, if one was stored.
    public static func entry(for device: OpenCLDevice, at path: String = path) throws -> TunedEntry? {
        try entries(at: path).last { $0.matches(device) }
    }

    /// Stores `entry`, replacing one for the same device, platform and driver; the file is
    /// written beside its final name and renamed into place, so it is never half written.
    public static func store(_ entry: TunedEntry, at path: String = path) throws {
        var entries = (try? entries(at: path)) ?? []
        entries.removeAll { $0.device == entry.device && $0.platform == entry.platform && $0.driver == entry.driver }
        entries.append(entry)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(File(entries: entries))
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
            try data.write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                throw OpenCLError.badTunables("cannot write the tuning cache \(path): \(String(cString: strerror(errno)))")
            }
        } catch let error as OpenCLError {
            throw error
        } catch {
            throw OpenCLError.badTunables("cannot write the tuning cache \(path): \(error.localizedDescription)")
        }
    }
}
