import GANCore

/// libFuzzer entry: a picture file as the folder reader takes it — decoded as grey and as
/// RGB, scaled and cropped to a size the first byte picks — must throw or succeed, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let side = 1 + Int(bytes.first ?? 0) % 17
    for channels in [1, 3] {
        for target in [nil, side] {
            if let picture = try? ImageFolder.read(bytes, channels: channels, size: target) {
                precondition(picture.pixels.count == picture.height * picture.width * channels)
                if let target { precondition(picture.height == target && picture.width == target) }
            }
        }
    }
    return 0
}
