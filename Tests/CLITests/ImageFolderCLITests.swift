import Foundation
import GANCore
import Testing

/// A folder of coloured shapes of known classes, made by the test: red discs on blue and
/// green squares on black, in sub-folders `discs` and `squares`, as PNG and JPEG of
/// `side` pixels (some grey, so the channels mix), plus whatever `extra` adds.
final class PictureFolder {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    init(side: Int = 20, perClass: Int = 12, classFolders: Bool = true) throws {
        directory = try TemporaryDirectory()
        var random = SystemRandomNumberGenerator()
        for (index, name) in ["discs", "squares"].enumerated() {
            let folder = classFolders ? "\(path)/\(name)" : path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for n in 0..<perClass {
                let centre = (Double.random(in: 0.35...0.65, using: &random) * Double(side), Double.random(in: 0.35...0.65, using: &random) * Double(side))
                let radius = Double.random(in: 0.15...0.3, using: &random) * Double(side)
                var pixels = [UInt8](repeating: 0, count: side * side * 3)
                for y in 0..<side {
                    for x in 0..<side {
                        let (dy, dx) = (Double(y) - centre.0, Double(x) - centre.1)
                        let inside = index == 0 ? dy * dy + dx * dx <= radius * radius : abs(dy) <= radius && abs(dx) <= radius
                        let colour: [UInt8] = index == 0 ? (inside ? [230, 30, 30] : [20, 40, 200]) : (inside ? [40, 220, 60] : [0, 0, 0])
                        pixels.replaceSubrange(((y * side + x) * 3)..<((y * side + x) * 3 + 3), with: colour)
                    }
                }
                let stem = "\(folder)/\(name)-\(n)"
                if n % 3 == 2 {
                    try Data(try ImageDecoding.encodeJPEG(pixels, width: side, height: side, channels: 3)).write(to: URL(fileURLWithPath: "\(stem).jpg"))
                } else if n == 4 {
                    // A grey picture among colour ones.
                    let grey = stride(from: 0, to: pixels.count, by: 3).map { i -> UInt8 in
                        let sum = Int(pixels[i]) + Int(pixels[i + 1]) + Int(pixels[i + 2])
                        return UInt8(sum / 3)
                    }
                    try ImageGrid.write(grey, channels: 1, width: side, height: side, to: "\(stem).png")
                } else {
                    try ImageGrid.write(pixels, channels: 3, width: side, height: side, to: "\(stem).png")
                }
            }
        }
    }

    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(path)/\(name)"))
    }
}

@Suite("gan-cl train on a folder of pictures", .serialized)
struct ImageFolderCLITests {
    /// Class folders of RGB shapes (PNG and JPEG, one grey picture, a corrupt PNG, a JPEG
    /// named .png, a text file): a conditional dcgan at 16×16 trains, its grids and samples
    /// are RGB, and a resume reads the run's cache instead of the folder.
    @Test func conditionalDCGANOnClassFoldersOfRGBPictures() throws {
        let folder = try PictureFolder()
        try folder.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<200).map { UInt8($0 % 251) }, to: "discs/broken.png")
        try folder.write(try ImageDecoding.encodeJPEG([UInt8](repeating: 200, count: 20 * 20 * 3), width: 20, height: 20, channels: 3), to: "squares/actually-a-jpeg.png")
        try folder.write(Array("not a picture".utf8), to: "squares/notes.txt")
        let runs = try TemporaryDirectory()
        let out = "\(runs.path)/run"
        let run = try GANCL.run(["train", "--data", folder.path, "--image-size", "16", "--model", "dcgan", "--conditional",
                                 "--batch-size", "8", "--steps", "6", "--sample-every", "3", "--eval-every", "0",
                                 "--backend", "cpu", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("skipped 1 of the pictures") && run.stderr.contains("discs/broken.png"), "\(run.stderr)")
        #expect(run.stdout.contains("25 images of 16×16 RGB"), "\(run.stdout)")
        #expect(run.stdout.contains("conditional on 2 classes: 0 discs, 1 squares"), "\(run.stdout)")
        #expect(run.stdout.contains("conv-transpose 128 k4 s1 p0") && run.stdout.contains("conv-transpose 3 k4 s2 p1 tanh → 768"), "\(run.stdout)")
        // The grid is an RGB PNG (IHDR colour type 2).
        let grid = try #require(FileManager.default.contents(atPath: "\(out)/samples/step-000006.png"))
        #expect(grid.count > 26 && grid[25] == 2)
        // Samples: N × 16·16·3, one row per class in the PNG.
        let checkpoint = "\(out)/checkpoints/step-000006.safetensors"
        let sample = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "6", "--out", "\(runs.path)/s.npy", "--backend", "cpu"])
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(FileManager.default.contents(atPath: "\(runs.path)/s.npy")?.count == 128 + 6 * 768 * 4)
        let png = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "4", "--out", "\(runs.path)/s.png", "--backend", "cpu"])
        #expect(png.status == 0 && FileManager.default.contents(atPath: "\(runs.path)/s.png")?[25] == 2, "\(png.stderr)")
        // A resume reads the decoded pictures from the run, even with the folder gone.
        try FileManager.default.removeItem(atPath: folder.path)
        let resumed = try GANCL.run(["train", "--resume", out, "--steps", "8"])
        #expect(resumed.status == 0 && resumed.stdout.contains("Read the 25 decoded pictures"), "\(resumed.stdout)\(resumed.stderr)")
        // ONNX export of an RGB generator: image (batch, 3, 16, 16).
        let export = try GANCL.run(["export", "--checkpoint", "\(out)/checkpoints/step-000008.safetensors", "--out", "\(runs.path)/g.onnx"])
        #expect(export.status == 0 && export.stdout.contains("image (batch, 3, 16, 16)"), "\(export.stderr)")
    }

    /// --channels 1 makes colour grey; the pictures' common size is kept without
    /// --image-size; pictures beside class folders are skipped.
    @Test func greyAndCommonSize() throws {
        let folder = try PictureFolder(side: 12, perClass: 6, classFolders: false)
        let runs = try TemporaryDirectory()
        let run = try GANCL.run(["train", "--data", folder.path, "--channels", "1", "--steps", "2", "--backend", "cpu",
                                 "--out", "\(runs.path)/grey"] + smallRun + ["--batch-size", "4"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("12 images of 12×12;") || run.stdout.contains("12 images of 12×12,"), "\(run.stdout)")
        #expect(FileManager.default.contents(atPath: "\(runs.path)/grey/samples/step-000002.png")?[25] == 0)
    }

    /// Each bad folder is one line and no run directory: no pictures, only corrupt ones,
    /// pictures of different sizes without --image-size, a corrupt one with --strict, and
    /// --conditional on a folder without class folders.
    @Test func badFoldersAreOneLineErrors() throws {
        let runs = try TemporaryDirectory()
        let empty = try TemporaryDirectory()
        try Data("text".utf8).write(to: URL(fileURLWithPath: "\(empty.path)/readme.txt"))
        let corrupt = try TemporaryDirectory()
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).write(to: URL(fileURLWithPath: "\(corrupt.path)/a.jpg"))
        let mixed = try PictureFolder(side: 12, perClass: 3, classFolders: false)
        try ImageGrid.write([UInt8](repeating: 9, count: 30 * 20 * 3), channels: 3, width: 30, height: 20, to: "\(mixed.path)/wide.png")
        let strict = try PictureFolder(side: 12, perClass: 3)
        try strict.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0], to: "discs/truncated.png")
        let flat = try PictureFolder(side: 12, perClass: 3, classFolders: false)
        let cases: [([String], String)] = [
            (["--data", empty.path], "has no pictures (.png, .jpg or .jpeg files"),
            (["--data", corrupt.path], "none of the 1 pictures in \(corrupt.path) could be read (first: a.jpg: "),
            (["--data", mixed.path], "differ in size"),
            (["--data", strict.path, "--strict"], "discs/truncated.png: a corrupt PNG"),
            (["--data", flat.path, "--conditional"], "--conditional needs labelled data"),
            (["--data", mixed.path, "--image-size", "600"], "--image-size: image-size must be an integer from 1 to 512"),
            (["--data", flat.path, "--channels", "2"], "--channels: channels must be 1 or 3"),
            (["--data", flat.path, "--model", "dcgan"], "the dcgan preset is for 28×28×1 and square 8, 16, 32, 64, 128 images, not 12×12×3"),
        ]
        for (index, (flags, fragment)) in cases.enumerated() {
            let out = "\(runs.path)/run\(index)"
            expectOneLineError(try GANCL.run(["train", "--steps", "2", "--batch-size", "2", "--backend", "cpu", "--out", out] + flags), fragment)
            #expect(!FileManager.default.fileExists(atPath: out), "no run directory for \(flags)")
        }
    }
}
