using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using TenantDbGuard;

namespace TenantCrm;

/// <summary>
/// The one place where errors become responses: RFC 7807 problem JSON with the status the error deserves, never a
/// redirect. What is not listed here stays a 500.
/// </summary>
internal sealed partial class CrmExceptionHandler(IProblemDetailsService problems, ILogger<CrmExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (Map(exception) is not { } problem)
        {
            return false;
        }

        if (problem.Status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = $"TenantToken header=\"{Tenant.HeaderName}\", cookie=\"{Tenant.CookieName}\"";
        }

        if (problem.RetryAfterSeconds is { } seconds)
        {
            LogUnavailable(logger, exception, problem.Status);
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = problem.Status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = problem.Status, Title = problem.Title, Detail = problem.Detail },
        });
    }

    private static Problem? Map(Exception exception) => exception switch
    {
        MissingTenantTokenException => new(StatusCodes.Status401Unauthorized, "Missing tenant token", exception.Message),

        // Unknown and malformed keys look the same from outside, so that keys cannot be probed.
        TenantNotFoundException or InvalidTenantKeyException =>
            new(StatusCodes.Status404NotFound, "Unknown tenant", "No tenant has this token."),

        BadHttpRequestException bad => new(bad.StatusCode, ReasonPhrases.GetReasonPhrase(bad.StatusCode), bad.Message),

        ConnectionBudgetExhaustedException =>
            new(StatusCodes.Status503ServiceUnavailable, "Busy", "All database connections are in use; retry shortly.", RetryAfterSeconds: 1),
        ServerConnectionLimitException =>
            new(StatusCodes.Status503ServiceUnavailable, "Database server busy", "The database server refused a connection; retry shortly.", RetryAfterSeconds: 5),
        TenantDatabaseUnavailableException =>
            new(StatusCodes.Status503ServiceUnavailable, "Tenant database unavailable", "This tenant's database cannot be reached; retry later.", RetryAfterSeconds: 30),
        _ => null,
    };

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Answered {Status} with Retry-After")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, int status);

    private sealed record Problem(int Status, string Title, string Detail, int? RetryAfterSeconds = null);
}
