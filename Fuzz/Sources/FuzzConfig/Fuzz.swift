import GANCore

/// libFuzzer entry: config files, JSON or TOML by the first byte's low bit, parsed and
/// applied to a RunConfig key by key, then its layer lines checked: errors are fine,
/// crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let toml = data[0] & 1 == 1
    guard let entries = try? ConfigFile.parse(bytes, toml: toml, path: toml ? "fuzz.toml" : "fuzz.json") else { return 0 }
    var config = RunConfig()
    for (key, value) in entries { try? config.set(key, value, source: "fuzz") }
    // Layer lines that parsed are checked against an image's shape (with ten classes when
    // conditional), as a run does first.
    try? config.checkArchitecture(data: ImageShape(height: 28, width: 28, channels: 1), classes: config.conditional ? 10 : nil)
    return 0
}
