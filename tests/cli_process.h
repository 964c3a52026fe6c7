#pragma once

#include <QByteArray>
#include <QProcess>
#include <QStringList>

// Runs quantscope-cli (QS_CLI_PATH, set by tests/CMakeLists.txt) the way a user or a script would.
struct CliResult {
    int exitCode = -1; ///< -1: did not finish in time; -2: crashed
    QByteArray out;
    QByteArray err;
};

inline CliResult runCli(const QStringList& arguments, int timeoutMs = 240000)
{
    QProcess process;
    process.start(QStringLiteral(QS_CLI_PATH), arguments);
    if (!process.waitForFinished(timeoutMs))
        return {};
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2,
        process.readAllStandardOutput(), process.readAllStandardError()};
}
