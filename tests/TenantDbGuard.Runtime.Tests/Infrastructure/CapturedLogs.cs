using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace TenantDbGuard.Runtime.Tests.Infrastructure;

/// <summary>A logger provider that keeps every entry, for tests that check what the runtime logged.</summary>
public sealed class CapturedLogs : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>The entries with event id <paramref name="eventId"/>.</summary>
    public IReadOnlyList<LogEntry> WithId(int eventId) => [.. _entries.Where(e => e.EventId.Id == eventId)];

    /// <summary>Waits until an entry with event id <paramref name="eventId"/> was logged, and returns the first.</summary>
    public async Task<LogEntry> WaitForAsync(int eventId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (WithId(eventId) is [var first, ..])
            {
                return first;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"No log entry with event id {eventId} within {timeout.TotalMilliseconds} ms; logged: {string.Join(", ", _entries.Select(e => e.EventId.Id))}.");
            }

            await Task.Delay(20);
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    void ILoggerFactory.AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}

public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);
