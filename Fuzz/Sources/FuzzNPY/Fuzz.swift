import GANCore

/// libFuzzer entry: .npy parsing must throw or succeed, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let file = try? NPYFile.decode(bytes, path: "fuzz.npy") {
        precondition(file.values.count == file.rows * file.columns)
    }
    return 0
}
