import GANCore

/// libFuzzer entry: IDX parsing must throw or succeed, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let file = try? IDXFile.parse(bytes, path: "fuzz.idx") {
        precondition(file.bytes.count == file.dimensions.reduce(1, *))
    }
    return 0
}
