using Actorvisor.Hardware.Lazy;

namespace Actorvisor.Actors.AsyncPf;

/// <summary>
/// The page an <see cref="AsyncPfQueue"/>'s vCPU waits on that could not be read (every read failed: the worker's and
/// the synchronous retry's). userfaultfd cannot fail one fault, so the thread stays blocked until the VM's teardown
/// asks for it to be released: then a zero page is installed where the store failed, which wakes the thread; its vCPU
/// was told to stop, so the guest runs at most a few more instructions on it. Owned by the queue and used only from
/// its thread.
/// </summary>
internal sealed class UnreadablePage(AsyncPfRouter router)
{
    private ulong? _page;

    /// <summary>Whether the VM is stopping and asked for threads on unreadable pages to be freed.</summary>
    public bool ReleaseAsked { get; private set; }

    /// <summary>Keeps <paramref name="page"/> as the one the vCPU waits on; returns why the VM fails.</summary>
    public string Hold(ulong page, Exception? error)
    {
        _page = page;
        return Describe(router, page, error);
    }

    /// <summary>Why a VM fails when <paramref name="page"/> of <paramref name="router"/>'s lazy memory could not be read.</summary>
    public static string Describe(AsyncPfRouter router, ulong page, Exception? error)
    {
        ulong address = router.GuestPhysicalAddress + (page << Hardware.Native.PageSize.Shift);
        return $"lazy memory page {page} (guest-physical 0x{address:x}) could not be read from the backing store " +
               $"'{router.Store.Description}': {error?.Message ?? "unknown error"}";
    }

    /// <summary>The teardown asks: the page held now is released, and any held later at once.</summary>
    public void AskRelease()
    {
        ReleaseAsked = true;
        Release();
    }

    /// <summary>Installs a zero page on the page held, if any, which wakes the blocked thread.</summary>
    public void Release()
    {
        if (_page is not { } page) return;
        _page = null;
        router.ReleaseWithZeroPage(router.Region, page);
    }
}
