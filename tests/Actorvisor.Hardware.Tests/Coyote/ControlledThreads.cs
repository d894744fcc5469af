using System.Collections.Concurrent;
using Microsoft.Coyote.Runtime;

namespace Actorvisor.Hardware.Tests.Coyote;

/// <summary>
/// Runs actions as Coyote-controlled operations, each on its own thread, without binary rewriting: every party
/// registers with Coyote's Operation API, so the Coyote scheduler decides the interleaving at the parties'
/// SchedulingPoint / Operation.PauseUntil calls and replays failures.
/// </summary>
public static class ControlledThreads
{
    /// <summary>Runs each action as a Coyote-controlled operation on its own thread and waits for all; an exception an action throws goes to <paramref name="errors"/>.</summary>
    public static void Run(ConcurrentQueue<string> errors, params Action[] actions)
    {
        var ids = actions.Select(_ => Operation.CreateNext() ?? throw new InvalidOperationException("not running under the Coyote test engine")).ToArray();
        var threads = actions.Select((action, n) => new Thread(() =>
        {
            try
            {
                Operation.OnStarted(ids[n]);
                try { action(); }
                catch (ThreadInterruptedException) { throw; }
                catch (Exception e) { errors.Enqueue(e.ToString()); }
                Operation.OnCompleted();
                Operation.ScheduleNext();
            }
            catch (ThreadInterruptedException)
            {
                // Coyote interrupts the threads it controls when it detaches (e.g. after finding a bug).
            }
        })).ToArray();
        for (int n = 0; n < threads.Length; n++)
        {
            Operation.Start(ids[n]);
            threads[n].Start();
        }
        Operation.ScheduleNext();
        foreach (var id in ids) Operation.PauseUntilCompleted(id);
        foreach (var t in threads) t.Join();
    }
}
