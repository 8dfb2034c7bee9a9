namespace Luminal.Sync;

/// <summary>What every runtime-owned sync object (channel, notify, semaphore, task set) has: the runtime it was made
/// on, checked for fork before anything takes its locks.</summary>
abstract class SyncObject(Runtime runtime)
{
    internal readonly Runtime Runtime = runtime;
}
