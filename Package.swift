// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "keras-features",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "WeightLoader", targets: ["WeightLoader"]),
        .library(name: "Backbones", targets: ["Backbones"]),
        .library(name: "Features", targets: ["Features"]),
        .executable(name: "extract", targets: ["extract"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // libhdf5 through pkg-config `hdf5` (Debian: libhdf5-dev). The header shim exposes
        // the HDF5 macros Swift cannot import (H5T_NATIVE_FLOAT, H5P_DEFAULT, ...).
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        // OpenBLAS's CBLAS through pkg-config `openblas` (Debian: libopenblas-dev).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "Backbones", dependencies: ["COpenBLAS", "WeightLoader"]),
        .target(
            name: "Features",
            dependencies: [
                "Backbones", "WeightLoader", "CHDF5",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .target(
            name: "WeightLoader",
            dependencies: [
                "CHDF5",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .executableTarget(
            name: "extract",
            dependencies: [
                "WeightLoader", "Backbones", "Features",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fixture paths and a runner for the built binary, shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "WeightLoaderTests", dependencies: ["WeightLoader", "TestSupport"]),
        .testTarget(name: "ExtractTests", dependencies: ["extract", "WeightLoader", "TestSupport"]),
        .testTarget(name: "BackbonesTests", dependencies: ["Backbones", "WeightLoader", "TestSupport"]),
        .testTarget(name: "FeaturesTests", dependencies: ["Features", "Backbones", "WeightLoader", "TestSupport"]),
    ]
)
