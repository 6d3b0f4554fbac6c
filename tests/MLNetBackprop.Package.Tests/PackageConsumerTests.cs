using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Xml.Linq;

namespace MLNetBackprop.Package.Tests;

/// <summary>
/// Issue #17: what a user who installs the packages gets. The libraries the solution just built are packed (dotnet pack,
/// no rebuild) into a private folder under a version no other run uses; a fresh console project outside the solution takes
/// MLNetBackprop from that folder by PackageReference, and trains, evaluates, saves and loads a model — with our loader and
/// with plain ML.NET, whose load needs ONNX Runtime's native library, which must arrive through the package's dependencies.
/// </summary>
public sealed class PackageConsumerTests : IDisposable
{
    private static readonly string[] Libraries = ["MLNetBackprop.Core", "MLNetBackprop", "MLNetBackprop.DependencyInjection"];

    private readonly string _work = Path.Combine(Path.GetTempPath(), "mlnetbackprop-package-" + Guid.NewGuid().ToString("N"));

    // A version of its own, so that the package cache never hands this run another run's build of the same version.
    private readonly string _version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)
        + "." + Random.Shared.Next(1_000_000).ToString(CultureInfo.InvariantCulture);

    public PackageConsumerTests() => Directory.CreateDirectory(_work);

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        // The restore extracted this run's version into the global package folder: remove exactly that version.
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in Libraries)
        {
            string dir = Path.Combine(cache, id.ToLowerInvariant(), _version);
            try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    [Fact]
    public void APackagedInstallTrainsEvaluatesSavesAndLoadsAModel()
    {
        string feed = Path.Combine(_work, "feed");
        Pack(feed);

        foreach (var id in Libraries)
        {
            string nupkg = Path.Combine(feed, $"{id}.{_version}.nupkg");
            Assert.True(File.Exists(nupkg), $"{nupkg} was not produced");
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.snupkg")), $"{id}: no symbol package");
            using var zip = ZipFile.OpenRead(nupkg);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries); // XML docs, for IntelliSense
            Assert.Contains("README.md", entries);
            Assert.Contains("LICENSE", entries);
            var nuspec = XDocument.Load(zip.GetEntry($"{id}.nuspec")!.Open());
            XNamespace ns = nuspec.Root!.Name.Namespace;
            var meta = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal(_version, meta.Element(ns + "version")!.Value);
            Assert.Equal("README.md", meta.Element(ns + "readme")?.Value);
            Assert.Equal("LICENSE", meta.Element(ns + "license")?.Value);
            Assert.False(string.IsNullOrWhiteSpace(meta.Element(ns + "description")?.Value), $"{id}: no description");
            Assert.Contains("ML.NET", meta.Element(ns + "tags")?.Value ?? "");
            Assert.Contains("MIT License", new StreamReader(zip.GetEntry("LICENSE")!.Open()).ReadToEnd());
            using var symbols = ZipFile.OpenRead(Path.Combine(feed, $"{id}.{_version}.snupkg"));
            Assert.Contains(symbols.Entries, e => e.FullName == $"lib/net10.0/{id}.pdb");
        }

        // A user's project in a folder of its own, outside the solution (no Directory.Build.* of ours applies).
        string app = Path.Combine(_work, "app");
        Directory.CreateDirectory(app);
        string consumer = Path.Combine(AppContext.BaseDirectory, "Consumer");
        File.Copy(Path.Combine(consumer, "Consumer.csproj.txt"), Path.Combine(app, "Consumer.csproj"));
        File.Copy(Path.Combine(consumer, "Program.cs"), Path.Combine(app, "Program.cs"));
        File.Copy(Path.Combine(consumer, "iris.txt"), Path.Combine(app, "iris.txt"));
        // The folder is added next to the machine's own sources (nothing cleared), as `dotnet add package --source` would.
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="mlnetbackprop-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);

        var (code, output) = Dotnet(app, "run", "-c", "Release", $"-p:MLNetBackpropVersion={_version}");
        Assert.True(code == 0, $"the packaged consumer failed (exit {code}):\n{output}");
        var values = output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains('=')).Select(l => l.Split('=', 2))
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1]);
        Assert.True(values.ContainsKey("ACCURACY"), output);
        // Iris, 30 % held out: the same pipeline in the main test suite reaches above 0.9.
        Assert.True(double.Parse(values["ACCURACY"], CultureInfo.InvariantCulture) > 0.9, output);
        Assert.True(int.Parse(values["ROWS"], CultureInfo.InvariantCulture) > 30, output);
        Assert.Equal("True", values["LOADED_IDENTICAL"]);
        Assert.True(double.Parse(values["PLAIN_LOAD_MAX_DIFF"], CultureInfo.InvariantCulture) < 1e-5, output);
        Assert.StartsWith("BackpropTransformer: multiclass classification", values["SUMMARY_FIRST_LINE"]);
    }

    /// <summary>Packs the three libraries as the solution built them (the test assembly's own configuration), no rebuild.</summary>
    private void Pack(string feed)
    {
        string configuration = typeof(PackageConsumerTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        string root = RepositoryRoot();
        foreach (var id in Libraries)
        {
            var (code, output) = Dotnet(root, "pack", Path.Combine("src", id, id + ".csproj"), "-c", configuration, "--no-build",
                "-o", feed, $"-p:PackageVersion={_version}");
            Assert.True(code == 0, $"dotnet pack {id} failed (exit {code}):\n{output}");
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNetBackprop.sln"))) return dir.FullName;
        throw new InvalidOperationException("MLNetBackprop.sln not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Output) Dotnet(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("-nodeReuse:false");
        // The test host runs under `dotnet test`, whose MSBuild variables would point the child build at the wrong SDK parts.
        foreach (var v in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly", "VSTEST_HOST_DEBUG" })
            psi.Environment.Remove(v);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var p = Process.Start(psi)!;
        var output = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        // A safety net against a wedged child only (restore and build take about a minute), not a speed check.
        if (!p.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "timed out after 15 minutes:\n" + output);
        }
        p.WaitForExit();
        lock (output) return (p.ExitCode, output.ToString());
    }
}
