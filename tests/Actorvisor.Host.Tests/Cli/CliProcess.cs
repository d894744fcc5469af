using System.Diagnostics;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>Runs the built `actorvisor` executable as a real child process and captures what it prints.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
    }

    public static async Task<Result> RunAsync(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "actorvisor.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"actorvisor {string.Join(' ', args)} did not finish within 2 minutes");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Writes <paramref name="bytes"/> to a fresh temporary file and returns its path.</summary>
    public static string TempImage(byte[] bytes, string suffix = ".bin")
    {
        var path = Path.Combine(Path.GetTempPath(), $"actorvisor-test-{Guid.NewGuid():N}{suffix}");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
