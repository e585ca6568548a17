// MARK: - Convolution geometry and normalisation parameters

/// The geometry of a 2-D convolution over a batch of images stored NHWC: image n's pixel
/// (y, x) channel c at ((n·height + y)·width + x)·channels + c. A square kernel of
/// `kernel`×`kernel` moves by `stride` over the image padded with `padding` zeros on
/// every side.
///
/// NHWC makes a convolution a dense layer on patches: the column matrix has one row per
/// output position (batch folded in) and one column per (ky, kx, c) of the patch, so
/// columns (positions, patchSize) · W (patchSize, outputChannels) is the output in NHWC
/// already, the per-channel bias is a GEMM column bias, and per-channel statistics
/// (batch normalisation) are column reductions.
public struct ConvolutionGeometry: Hashable, Sendable, CustomStringConvertible {
    public let batch, height, width, channels, kernel, stride, padding: Int

    public init(batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of the column matrix: batch · outputHeight · outputWidth.
    public var positions: Int { batch * outputHeight * outputWidth }
    /// Columns of the column matrix: kernel · kernel · channels.
    public var patchSize: Int { kernel * kernel * channels }
    /// Elements of the input images: batch · height · width · channels.
    public var imageElements: Int { batch * height * width * channels }

    /// Why this geometry is not a convolution, or nil.
    public var problem: String? {
        if batch < 0 { return "a negative batch (\(batch))" }
        if height < 1 || width < 1 || channels < 1 { return "an image of \(height)×\(width)×\(channels)" }
        if kernel < 1 || stride < 1 || padding < 0 {
            return "kernel \(kernel), stride \(stride), padding \(padding) (kernel and stride ≥ 1, padding ≥ 0)"
        }
        if padding >= kernel { return "padding \(padding) not below the kernel size \(kernel)" }
        if height + 2 * padding < kernel || width + 2 * padding < kernel {
            return "a \(kernel)×\(kernel) kernel larger than the padded \(height)×\(width) image"
        }
        return nil
    }

    public var description: String {
        "\(batch)×\(height)×\(width)×\(channels) k\(kernel) s\(stride) p\(padding)"
    }
}
