using System.Diagnostics;
using System.Text.Json;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// A client built only against the packed library (artifacts/packages/Actorvisor.Client.*.nupkg, restored from that
/// folder alone, offline; its dependencies come from the local NuGet cache) talks to a running node: a tiny project is
/// written, built once and run against the shared loopback cluster.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientPackageTests(LocalCluster cluster)
{
    // The tiny project's restore and build took about 20 s here (idle), its run about 2 s; a loaded machine is slower.
    private static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(400);

    private const string ProgramText = """
        using Actorvisor.Host.Api.Client;
        using Actorvisor.Host.Api.V1;

        // An orchestrator's first lines: the package alone, a status request and a list.
        await using var client = ApiClient.Connect(new ApiClientOptions("actorvisor", [args[0]], null, TimeSpan.FromSeconds(30)));
        if (ApiValidator.Spec(new ApiVmSpec("from-package", 1, 16UL << 20, "hello")) is { } invalid) throw new InvalidOperationException(invalid.Message);
        var reply = await client.RequestAsync(new ClusterStatusRequest());
        if (reply is not ClusterStatusReply status)
        {
            Console.WriteLine($"error: {reply}");
            return 1;
        }
        Console.WriteLine($"cluster {status.ClusterName}: {status.Nodes.Count(n => n.Status == "Up")} nodes up ({string.Join(", ", status.Nodes.Select(n => n.Name).Order())})");
        var list = (VmListReply)await client.RequestAsync(new ListVmsRequest());
        Console.WriteLine($"vms: {list.Vms.Count}");
        return 0;
        """;

    [Fact]
    public async Task A_client_built_only_against_the_package_talks_to_a_node()
    {
        var root = RepositoryRoot();
        var feed = Path.Combine(root, "artifacts", "packages");
        await EnsurePackageAsync(root, feed);
        var dir = Directory.CreateTempSubdirectory("actorvisor-package-client-").FullName;
        try
        {
            WriteProject(dir, feed);
            // No build server or MSBuild nodes left running after the test.
            var build = await RunAsync(dir, "dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", "-clp:ErrorsOnly", "-nodeReuse:false", "-p:UseSharedCompilation=false"]);
            Assert.True(build.ExitCode == 0, $"the package client did not build: {build}");
            // Restored as a package, and nothing of the daemon came with it.
            using (var assets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "obj", "project.assets.json"))))
            {
                var library = assets.RootElement.GetProperty("libraries").EnumerateObject().Single(l => l.Name.StartsWith("Actorvisor.Client/", StringComparison.Ordinal));
                Assert.Equal("package", library.Value.GetProperty("type").GetString());
            }
            var output = Path.Combine(dir, "bin", "Release", "net10.0");
            Assert.True(File.Exists(Path.Combine(output, "Actorvisor.Client.dll")));
            Assert.DoesNotContain(Directory.GetFiles(output, "*.dll").Select(f => Path.GetFileName(f)),
                f => f is "actorvisor.dll" || f.StartsWith("Actorvisor.Actors", StringComparison.Ordinal) || f.StartsWith("Actorvisor.Hardware", StringComparison.Ordinal));
            var run = await RunAsync(dir, "dotnet", [Path.Combine(output, "package-client.dll"), cluster.Contact(2)]);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("cluster actorvisor: 3 nodes up (n1, n2, n3)", run.Stdout);
            var listed = Assert.IsType<VmListReply>(await cluster.Client.RequestAsync(new ListVmsRequest()));
            Assert.Contains($"vms: {listed.Vms.Count}", run.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // CI packs the library before the tests (tests/run.sh); elsewhere, or if the library was built since, pack it now.
    private static async Task EnsurePackageAsync(string root, string feed)
    {
        var library = Path.Combine(root, "src", "Host", "Client", "bin", "Release", "net10.0", "Actorvisor.Client.dll");
        var package = Directory.Exists(feed) ? Directory.GetFiles(feed, "Actorvisor.Client.*.nupkg").FirstOrDefault() : null;
        if (package is not null && File.GetLastWriteTimeUtc(package) >= File.GetLastWriteTimeUtc(library)) return;
        var pack = await RunAsync(root, "dotnet", ["pack", Path.Combine(root, "src", "Host", "Client", "Actorvisor.Client.csproj"), "-c", "Release", "--no-build",
            "-nologo", "-v", "q", "-o", feed]);
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed: {pack}");
    }

    private static void WriteProject(string dir, string feed)
    {
        var version = Path.GetFileNameWithoutExtension(Directory.GetFiles(feed, "Actorvisor.Client.*.nupkg").Single())["Actorvisor.Client.".Length..];
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(dir, "package-client.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Actorvisor.Client" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);
        // Only the artifacts feed; Akka and the rest come from the local cache (a fallback folder: used in place, offline).
        // Its own packages folder, so that a package packed earlier and cached under the same version is never used.
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="artifacts" value="{feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <clear />
                <add key="cache" value="{cache}" />
              </fallbackPackageFolders>
              <config>
                <add key="globalPackagesFolder" value="{Path.Combine(dir, "packages")}" />
              </config>
            </configuration>
            """);
        // Stop MSBuild's search for build settings of folders above (the temporary directory's parents).
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(dir, name), "<Project />");
        File.WriteAllText(Path.Combine(dir, "Program.cs"), ProgramText);
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Actorvisor.sln"))) return d.FullName;
        throw new InvalidOperationException($"no Actorvisor.sln above {AppContext.BaseDirectory}");
    }

    private static async Task<CliResult> RunAsync(string directory, string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program == "dotnet" ? Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet" : program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The test host's MSBuild settings must not leak into the child build.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
            info.Environment.Remove(key);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(StepLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {StepLimit.TotalSeconds} s: {await stdout}{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
