// swift-tools-version:6.0
// Uses Sift as another package would: through its "Sift" library product, by path to this checkout.
// Run from anywhere inside the checkout: `swift run --package-path Examples/SiftLibraryExample` (see Examples/README.md).
import PackageDescription

let package = Package(
    name: "SiftLibraryExample",
    platforms: [.macOS(.v14)],
    dependencies: [
        // A package elsewhere would write `.package(url: "https://…/Sift.git", from: "…")` instead.
        .package(name: "Sift", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "SiftLibraryExample", dependencies: [
            .product(name: "Sift", package: "Sift"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
