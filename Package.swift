// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "gan-cl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gan-cl", targets: ["gan-cl"]),
        .library(name: "ComputeBackend", targets: ["ComputeBackend"]),
        .library(name: "CPUBackend", targets: ["CPUBackend"]),
        .library(name: "OpenCLBackend", targets: ["OpenCLBackend"]),
        .library(name: "GANCore", targets: ["GANCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenCL",
            pkgConfig: "OpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]
        ),
        // The backend protocol, its operation types and the shared Philox generator.
        .target(
            name: "ComputeBackend",
            dependencies: [.product(name: "RealModule", package: "swift-numerics")]
        ),
        // Plain-Swift reference: the oracle for every test.
        .target(name: "CPUBackend", dependencies: ["ComputeBackend"]),
        // Host layer; the kernels in Kernels/ reach the binary through the symlink
        // Sources/OpenCLBackend/Kernels and `.embedInCode`.
        .target(
            name: "OpenCLBackend",
            dependencies: ["COpenCL", "ComputeBackend"],
            resources: [.embedInCode("Kernels")]
        ),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // libjpeg-turbo's TurboJPEG API: JPEG decoding that reports errors by return value.
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        // Backend-independent GAN code: data, models, training, formats.
        .target(
            name: "GANCore",
            dependencies: [
                "ComputeBackend", "CZlib", "CPNG", "CTurboJPEG",
                .product(name: "RealModule", package: "swift-numerics"),
                .product(name: "CSV", package: "CSV.swift"),
            ]
        ),
        // One list of checks, run by `gan-cl devices --check` and by the tests.
        .target(name: "BackendConformance", dependencies: ["ComputeBackend", "CPUBackend"]),
        .executableTarget(
            name: "gan-cl",
            dependencies: [
                "ComputeBackend", "CPUBackend", "OpenCLBackend", "BackendConformance", "GANCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ComputeBackendTests",
            dependencies: ["ComputeBackend", "CPUBackend", "BackendConformance"]
        ),
        .testTarget(
            name: "OpenCLBackendTests",
            dependencies: ["ComputeBackend", "CPUBackend", "OpenCLBackend", "BackendConformance"]
        ),
        .testTarget(name: "GANCoreTests", dependencies: ["GANCore", "ComputeBackend", "CPUBackend", "OpenCLBackend"]),
        // Fixtures/: files written by earlier versions of gan-cl, read by the tests.
        .testTarget(name: "CLITests", dependencies: ["GANCore"], exclude: ["Fixtures"]),
    ]
)
