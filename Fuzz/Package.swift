// swift-tools-version: 6.0
// libFuzzer targets for gan-cl's parsers, outside the main package so that ordinary
// builds need no fuzzer runtime. Built and run by scripts/fuzz.sh:
//   swift build --package-path Fuzz -c release --sanitize=fuzzer -Xswiftc -parse-as-library
import Foundation
import PackageDescription

// A path dependency's package identity is its directory's name, which depends on where
// the repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent.lowercased()

let targets = ["FuzzIDX", "FuzzSafetensors", "FuzzNPY", "FuzzConfig", "FuzzPicture", "FuzzTable"]

let package = Package(
    name: "gan-cl-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: targets.map {
        .executableTarget(name: $0, dependencies: [.product(name: "GANCore", package: rootIdentity)])
    }
)
