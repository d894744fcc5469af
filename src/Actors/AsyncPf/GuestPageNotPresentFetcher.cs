using Actorvisor.Hardware.Native;
using Actorvisor.Hardware.Soft;
using Akka.Actor;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// Wires a software-accelerator vCPU's guest-visible async page faults to the VM's async-PF actors: for each page
/// the guest was told is not present (<see cref="SoftVcpu.AsyncPageFetcher"/>) it asks the "async-pf" actor to make
/// the page present through that vCPU's queue (<see cref="AwaitGuestPages"/>: its workers, read-ahead and limit)
/// and, when the wait ends, reports the token ready (<see cref="Hardware.AsyncPf.AsyncPfProtocol.PageReady"/>).
/// A wait cancelled by teardown reports nothing (the vCPU is going away and its protocol is closed); any other end
/// (failure, broadcast, no answer) reports the token anyway, so the guest retries its access and, if the page is
/// still missing, faults again (synchronously once that page is announced).
/// </summary>
public static class GuestPageNotPresentFetcher
{
    // A page from a 1 ms store arrives in milliseconds; a minute only bounds a VM whose actors stopped answering.
    private static readonly TimeSpan AnswerPatience = TimeSpan.FromMinutes(1);

    /// <summary>Sets the fetcher of <paramref name="vcpu"/> to ask <paramref name="asyncPf"/>, the VM's "async-pf" actor.</summary>
    public static void Attach(SoftVcpu vcpu, IActorRef asyncPf)
    {
        ArgumentNullException.ThrowIfNull(vcpu);
        ArgumentNullException.ThrowIfNull(asyncPf);
        vcpu.AsyncPageFetcher = (gpa, token) => _ = FetchAsync(vcpu, asyncPf, gpa, token);
    }

    private static async Task FetchAsync(SoftVcpu vcpu, IActorRef asyncPf, ulong gpa, uint token)
    {
        object? answer;
        try
        {
            answer = await asyncPf.Ask(new AwaitGuestPages(vcpu.Id, gpa, PageSize.Bytes), AnswerPatience).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
        {
            answer = null;
        }
        if (answer is GuestPagesReleased { Release: PageWaitRelease.Cancelled }) return;
        vcpu.AsyncPf.PageReady(token);
    }
}
