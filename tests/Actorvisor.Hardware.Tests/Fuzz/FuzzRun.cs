using System.Diagnostics;

namespace Actorvisor.Tests.Fuzz;

/// <summary>
/// Runs one fuzz target for a fixed time budget on a thread of its own and says what went wrong: an exception
/// outside the target's documented ones, one input taking longer than <see cref="SlowInput"/>, or a target that
/// does not come back at all (a hang). A failure names the random seed (set ACTORVISOR_FUZZ_SEED to repeat the
/// run) and saves the input to a file (ACTORVISOR_FUZZ_REPLAY=FILE runs just that input again). The budget is
/// ACTORVISOR_FUZZ_SECONDS (default 3 s).
/// </summary>
public static class FuzzRun
{
    /// <summary>The longest one input may take: the targets answer in microseconds to a few milliseconds.</summary>
    public static readonly TimeSpan SlowInput = TimeSpan.FromSeconds(5);

    /// <summary>How long past the budget a run may take before it counts as hung (a busy shared machine stalls threads for seconds).</summary>
    public static readonly TimeSpan HangMargin = TimeSpan.FromSeconds(60);

    /// <summary>The time budget of one fuzz target.</summary>
    public static TimeSpan Budget =>
        double.TryParse(Environment.GetEnvironmentVariable("ACTORVISOR_FUZZ_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : TimeSpan.FromSeconds(3);

    /// <summary>The random seed of this run: ACTORVISOR_FUZZ_SEED, or a fresh one.</summary>
    public static int RandomSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("ACTORVISOR_FUZZ_SEED"), out var seed) ? seed : Random.Shared.Next();

    /// <summary>True when ACTORVISOR_FUZZ_REPLAY names one saved input to run instead of a fuzz run.</summary>
    public static bool Replaying => Environment.GetEnvironmentVariable("ACTORVISOR_FUZZ_REPLAY") is { Length: > 0 };

    /// <summary>What a run did.</summary>
    /// <param name="Inputs">How many inputs the target was given.</param>
    /// <param name="Accepted">How many it took without an exception.</param>
    /// <param name="Slowest">The longest one input took.</param>
    public sealed record Report(long Inputs, long Accepted, TimeSpan Slowest);

    /// <summary>
    /// Feeds inputs from a mutator over <paramref name="seeds"/> to <paramref name="target"/> until the budget is
    /// spent. <paramref name="documented"/> says which exceptions the target may throw for a bad input.
    /// </summary>
    /// <exception cref="Xunit.Sdk.XunitException">an undocumented exception, a slow input or a hang.</exception>
    public static Report Run(string name, IReadOnlyList<byte[]> seeds, Action<byte[]> target, Func<Exception, bool> documented,
        IReadOnlyList<byte[]>? dictionary = null, int maxLength = 1 << 16)
    {
        int randomSeed = RandomSeed;
        var mutator = new InputMutator(seeds, randomSeed, dictionary, maxLength);
        // ACTORVISOR_FUZZ_REPLAY=FILE gives the target that one saved input instead (to debug a failure).
        var replay = Replaying ? File.ReadAllBytes(Environment.GetEnvironmentVariable("ACTORVISOR_FUZZ_REPLAY")!) : null;
        var budget = Budget;
        byte[]? current = null;
        string? failure = null;
        long inputs = 0, accepted = 0;
        var slowest = TimeSpan.Zero;
        var thread = new Thread(() =>
        {
            var total = Stopwatch.StartNew();
            var one = new Stopwatch();
            while (total.Elapsed < budget && (replay is null || inputs == 0))
            {
                var input = replay ?? mutator.Next();
                Volatile.Write(ref current, input);
                one.Restart();
                try
                {
                    target(input);
                    accepted++;
                }
                catch (Exception e) when (documented(e))
                {
                }
                catch (Exception e)
                {
                    failure = $"{e.GetType().FullName}: {e.Message}\n{e.StackTrace}";
                    return;
                }
                inputs++;
                if (one.Elapsed > slowest) slowest = one.Elapsed;
                if (one.Elapsed > SlowInput)
                {
                    failure = $"one input took {one.Elapsed.TotalSeconds:F1} s (the bound is {SlowInput.TotalSeconds} s)";
                    return;
                }
            }
        })
        { IsBackground = true, Name = $"fuzz-{name}" }; // the default stack, as the node's threads have
        thread.Start();
        if (!thread.Join(budget + HangMargin))
            failure = $"the target did not return within {budget + HangMargin} (a hang)";
        if (failure is not null)
        {
            var input = Volatile.Read(ref current) ?? [];
            var saved = Path.Combine(Path.GetTempPath(), $"actorvisor-fuzz-{name}-{randomSeed}.bin");
            File.WriteAllBytes(saved, input);
            throw new Xunit.Sdk.XunitException(
                $"fuzz {name}: {failure}\nrandom seed {randomSeed} (ACTORVISOR_FUZZ_SEED={randomSeed} repeats the run); input #{inputs + 1} saved to {saved}:\n{Convert.ToBase64String(input)}");
        }
        return new Report(inputs, accepted, slowest);
    }
}
