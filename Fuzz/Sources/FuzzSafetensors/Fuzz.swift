import GANCore

/// libFuzzer entry: safetensors decoding and checkpoint validation must throw or
/// succeed, never crash; what decodes must encode and decode to the same tensors.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafetensorsFile.decode(bytes, path: "fuzz.safetensors") else { return 0 }
    _ = try? Checkpoint.validate(file, path: "fuzz.safetensors")
    if let again = try? SafetensorsFile.decode(try file.encoded(), path: "re-encoded") {
        precondition(again.tensors.map(\.name).sorted() == file.tensors.map(\.name).sorted())
        precondition(again.metadata == file.metadata)
    } else {
        preconditionFailure("a decoded file did not survive encoding")
    }
    return 0
}
